/**
 * Vitest's pools, and the name each gets once the watchdog wraps it
 * (host/respawning-worker.ts). The runner tells by the name that its worker
 * belongs to the watchdog's own pools, which alone set its journal.
 */
export const POOL_NAMES = { forks: 'watchdog-forks', threads: 'watchdog-threads', vmForks: 'watchdog-vmForks', vmThreads: 'watchdog-vmThreads' } as const
export type Kind = keyof typeof POOL_NAMES

const WATCHDOG_POOLS: ReadonlySet<string> = new Set(Object.values(POOL_NAMES))

/** One of the watchdog's wrapped pools: the whole ladder, kill and resume included. */
export function isWatchdogPool(pool: unknown): boolean {
  return WATCHDOG_POOLS.has(String(pool))
}
