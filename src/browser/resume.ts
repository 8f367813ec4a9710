/**
 * The page's side of resuming a file after the watchdog closed the page that
 * ran it (stage kill; the main process's side is host/browser/page-respawn.ts).
 * The fresh page runs the file again with a plan (shared/browser-resume.ts):
 * tests whose results were recorded report them without running, and each
 * killed run fails with its stop instead of running, and blocking, again.
 * The same mechanism as a resumed Node worker (worker/runner.ts): a task
 * whose mode is not "run" is skipped by Vitest, body and hooks, and the
 * result set in onBeforeRunTask is what it sends.
 */
import { BROWSER_RESUME_KEY, belongsToTest, type BrowserResumePlan, type FinishedRecords, type KilledRun } from '../shared/browser-resume.js'
import { serializeStop, TestStoppedError } from '../shared/errors.js'
import type { RecordedTest } from '../shared/journal.js'
import { ArrayPrototypeFindIndex, ArrayPrototypeSplice, JSONParse, ObjectAssign, PromiseReject } from '../shared/intrinsics.js'

interface Task {
  id: string
  name: string
  mode: string
  meta: Record<string, unknown>
  result?: { state?: string } & Record<string, unknown>
  fullTestName?: string
  file: { filepath: string }
}

/** What a guarded run is, as the page announces it. */
interface RunSpec {
  subject: string
  file: string
  name: string
}

export class PageResume {
  /** Killed runs not yet failed in this page. */
  private readonly pending: KilledRun[]

  private constructor(private readonly plan: BrowserResumePlan, private readonly root: string) {
    this.pending = [...plan.killed]
  }

  /** The plan of this page's run request, if it resumes a file. */
  static read(providedContext: Record<string, unknown> | undefined, root: string): PageResume | null {
    const text = providedContext?.[BROWSER_RESUME_KEY]
    if (typeof text !== 'string') return null
    return new PageResume(JSONParse(text) as BrowserResumePlan, root)
  }

  /**
   * A killed run that does not belong to a test (a beforeAll or afterAll, the
   * file's import) fails at once, where it would have run: Vitest fails the
   * suite (skipping its tests) or the file. Null: run it.
   */
  stopped(spec: RunSpec): Promise<never> | null {
    const killed = this.take((run) => !belongsToTest(run.subject) && run.file === spec.file && run.subject === spec.subject && run.name === spec.name)
    return killed ? PromiseReject(new TestStoppedError(killed.stop, this.root)) : null
  }

  /**
   * Before a test runs: a recorded test reports its result, the test a killed
   * run belonged to fails with its stop. Called last (setup.ts): it has the
   * final word.
   */
  apply(test: Task): void {
    if (test.file.filepath !== this.plan.file) return
    const recorded = this.plan.finished[test.id]
    if (recorded) {
      test.mode = 'skip'
      test.result = recorded.result
      if (recorded.meta) ObjectAssign(test.meta, recorded.meta)
      return
    }
    if (test.mode !== 'run' && test.mode !== 'queued') return
    // Two tests of one name: the first one not recorded was the one running.
    const name = test.fullTestName || test.name
    const killed = this.take((run) => belongsToTest(run.subject) && run.file === test.file.filepath && run.name === name)
    if (!killed) return
    test.mode = 'skip'
    test.result = { state: 'fail', errors: [serializeStop(killed.stop, this.root)], duration: Math.round(killed.stop.elapsedMs), retryCount: 0, repeatCount: 0 }
  }

  private take(matches: (run: KilledRun) => boolean): KilledRun | undefined {
    const at = ArrayPrototypeFindIndex(this.pending, matches)
    return at === -1 ? undefined : ArrayPrototypeSplice(this.pending, at, 1)[0]
  }
}

/**
 * Every page keeps the results of the tests that finished since it last
 * announced a run, and sends them with the next announcement
 * (shared/browser-resume.ts, FinishedRecords): if that run blocks the page,
 * the main process knows what finished, whatever Vitest had sent by then.
 */
export class PageRecords {
  private pending: Record<string, RecordedTest> | undefined

  /** Installed after the leak checks, which may still fail the test. */
  install<T extends Task>(runner: { onAfterRunTask?: (test: T) => unknown }): void {
    const after = runner.onAfterRunTask?.bind(runner)
    runner.onAfterRunTask = async (test) => {
      await after?.(test)
      const state = test.result?.state
      if (state === 'pass' || state === 'fail') (this.pending ??= {})[test.id] = { result: test.result!, meta: test.meta }
    }
  }

  /** The announcement, with what finished since the last one. */
  attach<T extends object>(run: T): T & FinishedRecords {
    const finished = this.pending
    if (!finished) return run
    this.pending = undefined
    return { ...run, finished }
  }
}
