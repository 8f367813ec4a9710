/**
 * The package as a browser test file sees it (the `browser` condition of its
 * exports, which Vite uses for the page): `killAfter()` and the error classes,
 * without the plugin and its Node modules. The same names as src/index.ts.
 */
import { WatchdogConfigError } from '../shared/errors.js'

export { killAfter } from '../shared/kill-after.js'
export { TestStoppedError, WatchdogConfigError, WatchdogMisplacedPluginError, WatchdogOptionError, WatchdogPageCodeError, WatchdogUnsupportedVitestError } from '../shared/errors.js'

/** The plugin belongs in the Vitest config, which runs in Node. */
export function watchdog(): never {
  throw new WatchdogConfigError('watchdog() is the plugin for vitest.config (Node); a browser test file can import killAfter() and the error classes only.')
}
