/**
 * A browser project under the plugin. Vitest's browser mode runs each test
 * file in a tester frame of a page, with its own runner: the Node runner and
 * pools the plugin installs do not apply there. Instead the page gets the
 * watchdog's setup file (src/browser/setup.ts, built to dist/browser/), which
 * guards every test, hook and import in the page, and the main process
 * watches those runs (ladder.ts).
 */
import { fileURLToPath } from 'node:url'
import type { TestProject, Vitest } from 'vitest/node'

const setupPath = fileURLToPath(new URL('./browser/setup.js', import.meta.url))

/** Browsers whose pages the main process can pause and terminate over CDP (Playwright's Chromium). */
const CDP_BROWSERS = new Set(['chromium', 'chrome', 'edge'])

export function isBrowserProject(project: TestProject): boolean {
  return (project.config as { browser?: { enabled?: boolean } }).browser?.enabled === true
}

/** Adds the page's setup file, first, and says once if this browser has no stage interrupt. */
export function setUpBrowserProject(vitest: Vitest, project: TestProject, said: Set<string>): void {
  const config = project.config as unknown as { setupFiles: string[]; browser: { name?: string; provider?: { name?: string } } }
  if (!config.setupFiles.includes(setupPath)) config.setupFiles.unshift(setupPath)
  const browser = config.browser.name ?? 'unknown'
  const provider = config.browser.provider?.name ?? 'unknown'
  if ((!CDP_BROWSERS.has(browser) || provider !== 'playwright') && !said.has(`${provider}/${browser}`)) {
    said.add(`${provider}/${browser}`)
    vitest.logger.warn(`vitest-watchdog: browser "${browser}" (provider "${provider}"): stage interrupt needs Chromium through the Playwright provider (the Chrome DevTools Protocol); here a hung test gets stage abort, and a page that stops answering is closed.`)
  }
}
