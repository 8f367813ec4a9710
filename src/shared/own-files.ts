import { fileURLToPath } from 'node:url'

/**
 * The watchdog's own build directory (dist/). Bundling may place this module in
 * dist/ or dist/worker/; either way, frames under dist/ are the watchdog's own
 * and never where a user's test hung.
 */
export const ownDir = fileURLToPath(new URL('./', import.meta.url)).replace(/worker\/$/, '')
export const ownDirUrl = new URL('./', import.meta.url).href.replace(/worker\/$/, '')

export function isWatchdogCode(fileOrUrl: string | undefined): boolean {
  return !!fileOrUrl && (fileOrUrl.startsWith(ownDir) || fileOrUrl.startsWith(ownDirUrl))
}
