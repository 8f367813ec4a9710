/**
 * When a worker has to be killed from inside (the helper kills its own
 * process), no test result reaches the main process. The helper first appends
 * one JSON line per kill to a file the main process reads at the end of the run.
 */

/** Sent by the runner at each test start; the helper needs it only if it must kill the worker. */
export interface RunningTest {
  seq: number
  file: string
  name: string
  /** What was running: "Test", 'Hook "beforeAll"', ... */
  subject: string
  killAfter: number
  budgetSource: string
  startedAt: number
}

export interface KillRecord {
  reason: string
  pid: number
  at: number
  test: RunningTest | null
  location: { file: string; line: number; column: number } | null
  stack: string
}

/** Threads pool: the helper asks the main thread to terminate a test thread (see host/respawning-worker.ts). */
export const THREAD_KILL_CHANNEL = 'vitest-watchdog:kill-thread'

export interface ThreadKillRequest {
  threadId: number
  /** Children of the process started since the stuck test began: killed first, so a blocked execSync returns. */
  pids: number[]
  /**
   * False when the thread spins inside an async callback: terminating a thread
   * there can abort the whole process (the async hook stack is corrupted), so
   * the thread is abandoned instead: unref'd, left to end with the run.
   */
  terminate: boolean
}
