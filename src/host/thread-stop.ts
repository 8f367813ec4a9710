/**
 * Stage kill for a worker thread (the threads and vmThreads pools). A test
 * thread is part of Vitest's own process: there is no process to kill, so its
 * own children (found by their child mark) are killed first, which makes a
 * blocked execSync return, and then the thread is terminated from the main
 * thread, or, when terminating it is unsafe, abandoned.
 */
import type { Worker as NodeWorker } from 'node:worker_threads'
import type { ThreadsPoolWorker, VmThreadsPoolWorker } from 'vitest/node'
import { unrefTimer } from '../shared/clock.js'
import { killTree } from '../shared/process-tree.js'
import { leaveBehind, unrefThread } from './stuck-threads.js'

/**
 * How long terminating a stuck test thread may take. A thread blocked in a
 * system call ignores terminate() until the call returns (its children were
 * killed first to make it return); past this bound the watchdog says so and
 * resumes the file in a fresh thread without it.
 */
export const THREAD_TERMINATE_BOUND_MS = 5_000

type ThreadWorker = ThreadsPoolWorker | VmThreadsPoolWorker

/** Vitest's thread pool worker keeps its `Worker` private. */
export function threadOf(worker: ThreadWorker): NodeWorker | undefined {
  return (worker as unknown as { _thread?: NodeWorker })._thread
}

/** The test thread's id once it started: the inspector reaches it by this id, and its children carry it in their mark. */
export function threadIdOf(worker: ThreadWorker): number | undefined {
  return threadOf(worker)?.threadId
}

/**
 * Stops a stuck test thread after killing `children`, its own. `abandon`:
 * it spins inside an async callback, where terminating it can abort the
 * whole process, so it is left spinning, unref'd, and must not keep the run
 * alive (at exit Node terminates it, which is safe once nothing else runs).
 * Resolves to what happened: `not-terminated` when terminate() did not end it
 * within THREAD_TERMINATE_BOUND_MS; it is then left behind (stuck-threads.ts)
 * as `what`, so that it neither keeps the run alive nor hangs its exit.
 */
export async function stopThread(worker: ThreadWorker, children: readonly number[], abandon: boolean, what: string): Promise<'terminated' | 'abandoned' | 'not-terminated'> {
  for (const pid of children) {
    try {
      killTree(pid)
    } catch {
      // The process table could not be read: the thread is stopped all the same.
    }
  }
  if (abandon) {
    unrefThread(threadOf(worker))
    return 'abandoned'
  }
  const terminated = await Promise.race([
    worker.stop().then(() => true, () => true),
    new Promise<false>((resolve) => unrefTimer(() => resolve(false), THREAD_TERMINATE_BOUND_MS)),
  ])
  if (terminated) return 'terminated'
  leaveBehind(threadOf(worker), what)
  return 'not-terminated'
}
