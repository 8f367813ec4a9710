import { rmSync } from 'node:fs'
import { descendantsOf, killTree } from '../shared/process-tree.js'
import { forgetDir, forgetWorker, reapDir, reapWorker } from './reaper.js'

/**
 * Every worker process the watchdog's pool has started and not yet stopped.
 *
 * Vitest exits on SIGINT and SIGTERM with process.exit() and does not stop
 * its workers first; the workers lead their own process groups, so the
 * terminal's or CI's signal does not reach them either. The 'exit' hook
 * below runs synchronously on that exit and kills each worker with
 * everything it spawned. If the main process dies without an 'exit' event
 * (SIGKILL, a crash), the reaper (reaper.ts) does the same.
 */
const workers = new Map<number, LiveJournal>()
/** Each worker's scratch directory (journal, notes, resume plan): removed with the worker, or on exit. */
const scratchDirs = new Set<string>()
let hooked = false

function hookExit(): void {
  if (hooked) return
  hooked = true
  process.once('exit', () => {
    killAllWorkers()
    for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true })
    scratchDirs.clear()
  })
}

export function registerScratch(dir: string): void {
  scratchDirs.add(dir)
  reapDir(dir)
  hookExit()
}

export function removeScratch(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
  scratchDirs.delete(dir)
  forgetDir(dir)
}

/** A live worker's journal (shared/journal.ts), read when the run is stopped from outside, and the project it runs. */
export interface LiveJournal {
  journal: string
  project: string
}

/** `journal`: the worker's journal file, read when the run is stopped from outside; `project`: the name of the project it runs. */
export function registerWorker(pid: number, journal: string, project: string): void {
  workers.set(pid, { journal, project })
  reapWorker(pid)
  hookExit()
}

export function unregisterWorker(pid: number): void {
  workers.delete(pid)
  forgetWorker(pid)
}

export function killAllWorkers(): void {
  for (const pid of workers.keys()) {
    killTree(pid, descendantsOf(pid))
    // Dead now: the reaper must not kill the pid again (it may be another process's by then).
    forgetWorker(pid)
  }
  workers.clear()
}

/** The worker processes alive now: never mistaken for a test's children. */
export function liveWorkerPids(): ReadonlySet<number> {
  return new Set(workers.keys())
}

/** Journals of the workers alive now: what they ran, even when they could not tell Vitest (blocked in a system call). */
export function liveJournals(): LiveJournal[] {
  return [...workers.values()]
}
