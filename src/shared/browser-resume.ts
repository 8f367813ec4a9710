/**
 * Browser mode: what a fresh page is told when the watchdog closed the page
 * that ran a file (stage kill) and the rest of the file goes on in a new one.
 * The main process (host/browser/page-respawn.ts) builds it; the page
 * (browser/resume.ts) applies it. It travels in the provided context of the
 * replayed run request, under BROWSER_RESUME_KEY, as a JSON string.
 */
import type { RecordedTest } from './journal.js'
import type { Stop } from './stop.js'

/** Key in the page's provided context (`__vitest_worker__.providedContext`). */
export const BROWSER_RESUME_KEY = '__vitest_watchdog_resume__'

/**
 * Added by the page to a run's announcement (RUN_COMMAND of
 * browser-protocol.ts): the results of the tests that finished since its
 * previous one. Vitest's own task updates leave the page at most every
 * 100 ms, so a page that blocks right after a test may never send that
 * test's; the announcement of the run that blocks is sent before it starts.
 */
export interface FinishedRecords {
  finished?: Record<string, RecordedTest>
}

/** A guarded run the watchdog killed the page of, as the page announced it (browser-protocol.ts, RunMessage). */
export interface KilledRun {
  file: string
  subject: string
  name: string
  stop: Stop
}

export interface BrowserResumePlan {
  /** The file being resumed: a page that runs several files (isolate: false) applies the plan to this one only. */
  file: string
  /** Tests that finished before the page was closed (announced, or in Vitest's state), by task id: reported, not run again. */
  finished: Record<string, RecordedTest>
  /** Every run of this file killed so far, oldest first: each fails with its stop instead of running (and blocking) again. */
  killed: KilledRun[]
}

/**
 * A run that belongs to one test (its body, its beforeEach or afterEach):
 * that test fails with the stop and is not run again. The other runs (a
 * beforeAll or afterAll, the import of the file) fail where they are, which
 * Vitest turns into a failed suite or file. The subjects are the ones
 * browser/setup.ts gives its guarded runs.
 */
export function belongsToTest(subject: string): boolean {
  return subject === 'Test' || subject.startsWith('Hook "beforeEach" of test ') || subject.startsWith('Hook "afterEach" of test ')
}
