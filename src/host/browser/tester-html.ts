/**
 * How the watchdog's page code (src/browser/setup.ts, built to
 * dist/browser/page.js) gets into each tester frame. Vitest serves a tester
 * frame's HTML through its browser Vite server's `transformIndexHtml`; the
 * plugin's own hook adds two scripts right after Vitest's injector (the
 * inline script that creates `__vitest_browser_runner__`), ahead of every
 * module script: a small inline one that catches Vitest's assignment of the
 * runner, and the page code as a module, which runs before Vitest's tester
 * module (module scripts run in document order) and leaves its installer for
 * that assignment. A setup file would cost each test file a fresh import
 * under a new URL (Vitest versions setup files per frame) and Vitest's
 * setup handling; this costs one cached module per frame.
 *
 * Chosen per browser server when a guarded project's server exists
 * (`onBrowserInit`, before any page): a server without this plugin among its
 * own (its HTML hook would never run) gets the setup file instead.
 */
import { dirname, join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { PAGE_INSTALL_KEY } from '../../shared/browser-protocol.js'
import { WatchdogPageCodeError, WatchdogUnsupportedVitestError } from '../../shared/errors.js'
import { ownDir } from '../../shared/own-files.js'

/** The page code, loaded by the tester HTML (tsup.config.ts: entry `browser/page`). */
export const pageCodeFile = join(ownDir, 'browser', 'page.js')
/** The one-line setup file that imports the page code (tsup.config.ts writes it): the way in where the HTML hook is not. */
export const pageSetupFile = join(ownDir, 'browser', 'setup.js')

/** The plugin's name, which its HTML hook is found by in a browser server's plugins. */
export const PLUGIN_NAME = 'vitest-watchdog'

/** Vitest's placeholder for its injector script: only its tester HTML has it when transformed. */
const INJECTOR_PLACEHOLDER = '{__VITEST_INJECTOR__}'

interface ServerLike {
  config: { plugins: ReadonlyArray<{ name?: string; transformIndexHtml?: unknown }>; server?: { fs?: { allow?: string[] } } }
}
interface ProjectBrowserLike {
  vite?: ServerLike
  testerFilepath?: string
}

/**
 * Browser servers whose tester HTML gets the page code, with the tester HTML
 * files of their guarded projects; by the server's resolved config, the one
 * object the hook's `ctx.server` and `project.browser.vite` share (Vite hands
 * the hook another server object than the one Vitest keeps).
 */
const injecting = new WeakMap<object, Set<string>>()

/**
 * Called for a guarded project's browser server before its first page (not
 * under a debugger: the page is then left as it is). The page code goes in
 * through the tester HTML where this plugin's hook runs on that server,
 * through the setup file otherwise.
 */
export function choosePageCodeWay(project: TestProject): 'html' | 'setup-file' {
  const browser = (project as unknown as { browser?: ProjectBrowserLike }).browser
  const server = browser?.vite
  if (server) allowPageCode(server)
  const ours = server?.config.plugins.some((plugin) => plugin.name === PLUGIN_NAME && plugin.transformIndexHtml !== undefined)
  if (!server || !ours || typeof browser?.testerFilepath !== 'string') {
    const config = project.config as unknown as { setupFiles: string[] }
    if (!config.setupFiles.includes(pageSetupFile)) config.setupFiles.unshift(pageSetupFile)
    return 'setup-file'
  }
  let testers = injecting.get(server.config)
  if (!testers) injecting.set(server.config, (testers = new Set()))
  testers.add(browser.testerFilepath)
  return 'html'
}

/**
 * The page code is served from wherever the package is installed: a
 * symlinked node_modules, `npm link`, a workspace above the root or Yarn PnP
 * can put it outside Vite's `server.fs.allow`, and Vite would refuse it. Only
 * its own folder is added (Vite reads the resolved list at each request).
 */
function allowPageCode(server: ServerLike): void {
  const allow = server.config.server?.fs?.allow
  const dir = dirname(pageCodeFile).replace(/\\/g, '/')
  if (allow && !allow.includes(dir)) allow.push(dir)
}

/**
 * The plugin's `transformIndexHtml` (normal order: after Vitest's tester
 * hook, which runs first, and Vite's own). Anything but a guarded project's
 * tester HTML (the orchestrator's page is not served through this hook at
 * all) is left as it is.
 */
export function withPageCode(html: string, ctx: { filename?: string; server?: { config?: object } }): string | undefined {
  const testers = ctx.server?.config && injecting.get(ctx.server.config)
  if (!testers || !ctx.filename || !testers.has(ctx.filename)) return undefined
  const at = html.indexOf(INJECTOR_PLACEHOLDER)
  const end = at === -1 ? -1 : html.indexOf('</script>', at)
  // A tester page without Vitest's injector would run its tests with nobody to install the watchdog.
  if (end === -1) throw new WatchdogUnsupportedVitestError(`browser mode: the tester HTML (${ctx.filename}) has no ${INJECTOR_PLACEHOLDER} script after Vitest's transform`)
  const after = end + '</script>'.length
  return `${html.slice(0, after)}\n${pageScripts()}${html.slice(after)}`
}

function pageScripts(): string {
  const url = `/@fs/${pageCodeFile.replace(/\\/g, '/').replace(/^\//, '')}`
  const missing = new WatchdogPageCodeError(url)
  // Runs right after Vitest's injector, before any module: the setter is in
  // place before Vitest's tester can assign the runner. A runner assigned
  // with no installer (the module failed to load) fails the frame's setup,
  // which Vitest reports, instead of running its tests unguarded.
  const inline = `(() => {
  const state = window.__vitest_browser_runner__
  let runner
  Object.defineProperty(state, 'runner', {
    configurable: true,
    enumerable: true,
    get: () => runner,
    set: (value) => {
      runner = value
      const install = state[${JSON.stringify(PAGE_INSTALL_KEY)}]
      if (typeof install !== 'function') throw Object.assign(new Error(${JSON.stringify(missing.message)}), { name: ${JSON.stringify(missing.name)}, code: ${JSON.stringify(missing.code)} })
      install(value)
    },
  })
})()`
  return `<script>${inline}</script>\n<script type="module" src="${url}"></script>\n`
}
