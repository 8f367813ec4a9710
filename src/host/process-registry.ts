import { descendantsOf, killTree } from '../shared/process-tree.js'

/**
 * Every worker process the watchdog's pool has started and not yet stopped.
 *
 * Vitest exits on SIGINT and SIGTERM with process.exit() and does not stop
 * its workers first; the workers lead their own process groups, so the
 * terminal's or CI's signal does not reach them either. The 'exit' hook
 * below runs synchronously on that exit and kills each worker with
 * everything it spawned. (If the main process dies without an 'exit' event,
 * SIGKILL for instance, each worker's helper thread notices it was orphaned
 * and kills its own tree: see worker/helper.ts.)
 */
const workers = new Map<number, string>()
let hooked = false

/** `journal`: the worker's journal file (shared/resume.ts), read when the run is stopped from outside. */
export function registerWorker(pid: number, journal: string): void {
  workers.set(pid, journal)
  if (!hooked) {
    hooked = true
    process.once('exit', killAllWorkers)
  }
}

export function unregisterWorker(pid: number): void {
  workers.delete(pid)
}

export function killAllWorkers(): void {
  for (const pid of workers.keys()) killTree(pid, descendantsOf(pid))
  workers.clear()
}

/** Journals of the workers alive now: what they ran, even when they could not tell Vitest (blocked in a system call). */
export function liveJournals(): string[] {
  return [...workers.values()]
}
