/**
 * How a file survives the death of its worker.
 *
 * Under the watchdog's pool, each worker process appends to a journal: one
 * line when a test starts, one with its result when it ends. When the worker
 * dies mid-file (the kill stage, or a crash), the main process reads that
 * journal, starts a fresh worker with a resume plan, and replays the same run
 * request. The fresh worker's runner collects the file again, reports the
 * finished tests with their recorded results (without running them or their
 * hooks), fails the test that was running when the worker died, and runs the
 * rest for real.
 */

/** Worker process environment: where the runner appends its journal. */
export const ENV_JOURNAL = 'VITEST_WATCHDOG_JOURNAL'
/** Worker process environment: the resume plan of a replacement worker. */
export const ENV_RESUME = 'VITEST_WATCHDOG_RESUME'
/** Worker process environment: where the helper records a kill before it kills its own process. */
export const ENV_KILL_LOG = 'VITEST_WATCHDOG_KILL_LOG'

export type JournalLine =
  /** `at`: epoch ms; `killAfter`: the test's budget, so a crash can be reported against it; file and name for a report written while the worker is blocked. */
  | { start: string; at: number; killAfter: number | null; file: string; name: string }
  | { end: string; result: unknown }
  /** A beforeAll/afterAll hook of suite `hook` started, or ended: a worker dying in one fails that suite only. */
  | { hook: string; kind: string; at: number }
  | { hookEnd: string }

/** Parses a journal; the last line may be cut short by a kill. */
export function readJournalLines(text: string): JournalLine[] {
  const lines: JournalLine[] = []
  for (const line of text.split('\n')) {
    if (!line) continue
    try {
      lines.push(JSON.parse(line) as JournalLine)
    } catch {
      // Cut short.
    }
  }
  return lines
}

/** A test result as Vitest sends it: state, duration, errors as plain objects. */
export type RecordedResult = Record<string, unknown> & { state?: string }

export interface ResumePlan {
  /** Tests that finished in an earlier worker, by task id. */
  finished: Record<string, RecordedResult>
  /** Tests that were running when a worker died: their failure, by task id. */
  failed: Record<string, RecordedResult>
  /** Suites whose beforeAll/afterAll was running when a worker died: the error they fail with, by suite id. Their tests are skipped. */
  failedSuites: Record<string, { kind: string; error: Record<string, unknown> }>
  /** Set when the file cannot be resumed again: every test not in `finished` or `failed` is reported as not run, with this reason. */
  notRun: string | null
}
