/**
 * A browser project under the plugin. Vitest's browser mode runs each test
 * file in a tester frame of a page, with its own runner: the Node runner and
 * pools the plugin installs do not apply there. Instead each tester frame
 * gets the watchdog's page code (src/browser/setup.ts, built to
 * dist/browser/; tester-html.ts says how), which guards every test, hook and
 * import in the page, and the main process watches those runs (ladder.ts).
 */
import type { TestProject, Vitest } from 'vitest/node'
import { choosePageCodeWay } from './tester-html.js'

/** Projects whose pages get the page code: not those under a debugger, whose pages are left as they are. */
const guardedPages = new WeakSet<TestProject>()

/** Browsers whose pages the main process can terminate and profile over CDP (Playwright's Chromium). */
const CDP_BROWSERS = new Set(['chromium', 'chrome', 'edge'])

export function isBrowserProject(project: TestProject): boolean {
  return (project.config as { browser?: { enabled?: boolean } }).browser?.enabled === true
}

/** Marks the project's pages for the page code, and says once if this browser has no stage interrupt. */
export function setUpBrowserProject(vitest: Vitest, project: TestProject, said: Set<string>): void {
  const config = project.config as unknown as { browser: { name?: string; provider?: { name?: string } } }
  guardedPages.add(project)
  const browser = config.browser.name ?? 'unknown'
  const provider = config.browser.provider?.name ?? 'unknown'
  if ((!CDP_BROWSERS.has(browser) || provider !== 'playwright') && !said.has(`${provider}/${browser}`)) {
    said.add(`${provider}/${browser}`)
    vitest.logger.warn(`vitest-watchdog: browser "${browser}" (provider "${provider}"): stage interrupt needs Chromium through the Playwright provider (the Chrome DevTools Protocol); here a hung test gets stage abort, and a page that stops answering is closed.`)
  }
}

/** The project's browser server exists, no page yet (reporter hook onBrowserInit): the page code's way in is chosen now. */
export function browserServerReady(project: TestProject): void {
  if (guardedPages.has(project)) choosePageCodeWay(project)
}
