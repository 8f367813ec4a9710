import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { StringPrototypeIncludes, StringPrototypeStartsWith } from './intrinsics.js'

/**
 * The watchdog's own build directory (dist/). Bundling may place this module in
 * dist/ or dist/worker/; either way, frames under dist/ are the watchdog's own
 * and never where a user's test hung.
 */
const ownDirUrl = new URL('./', import.meta.url).href.replace(/worker\/$/, '')
export const ownDir = fileURLToPath(ownDirUrl)

/** The test runner Vitest loads in each worker (tsup.config.ts: entry `worker/runner`). */
export const runnerFile = join(ownDir, 'worker', 'runner.js')

/** Vitest's globalSetup for a root config with projects: fails the run when no project is guarded (tsup.config.ts: entry `host/check-projects`). */
export const checkProjectsFile = join(ownDir, 'host', 'check-projects.js')

/** A path or file:// URL under the watchdog's own build. */
export function isWatchdogCode(fileOrUrl: string | undefined): boolean {
  return !!fileOrUrl && (StringPrototypeStartsWith(fileOrUrl, ownDir) || StringPrototypeStartsWith(fileOrUrl, ownDirUrl))
}

/**
 * Whether a stack frame's file (a path or a file:// URL) is the user's code:
 * on disk, and neither a dependency (node_modules: Vitest, its libraries) nor
 * the watchdog's own. Node's own frames ("node:internal/...") are not on disk.
 * The one rule for where a test hung, where a leak was created, and which
 * paused frame is worth stepping to.
 */
export function isUserCode(fileOrUrl: string): boolean {
  return (StringPrototypeStartsWith(fileOrUrl, '/') || StringPrototypeStartsWith(fileOrUrl, 'file://')) && !StringPrototypeIncludes(fileOrUrl, '/node_modules/') && !isWatchdogCode(fileOrUrl)
}
