/**
 * What a replacement worker is told when its predecessor died mid-file: the
 * tests that finished (with their results), the failure of what was running,
 * and what cannot be run again. Built from the dead worker's journal
 * (shared/journal.ts) and, for a stop, the watchdog's own record of it.
 */
import { fileCrashError, serializeStop, WatchdogResumeError } from '../shared/errors.js'
import { parseJournal, type RecordedTest, type ResumePlan, type RunLine, type SuiteHookKind } from '../shared/journal.js'
import { describeExit, type Stop } from '../shared/stop.js'

export interface Death {
  /** Set when the watchdog killed it (stage kill); absent for a crash. */
  stop?: { stop: Stop; run: RunLine }
  code: number | null
  signal: NodeJS.Signals | null
}

export function emptyPlan(): ResumePlan {
  return { finished: {}, failed: {}, failedSuites: {}, notRun: {} }
}

/**
 * Adds the dead worker's record, `journalText` (its journal from where the
 * current run request's lines start), to `plan`, and returns the files the dead worker had finished before the one it died
 * in (with isolate: false a worker runs file after file): the replacement
 * must not run or report them again. Throws when the file cannot be resumed
 * again (it already died outside any test once): Vitest is then told the
 * worker exited.
 */
export function recordDeath(plan: ResumePlan, journalText: string, death: Death, root: string): string[] {
  const tests = new Map<string, Attempts>()
  const runs = new Map<number, RunLine>()
  /** The file the worker was on: where a death outside any test belongs. */
  let file = '*'
  /** Files in the order the worker began them. */
  const began: string[] = []
  for (const line of parseJournal(journalText)) {
    if (line.kind === 'test' || line.kind === 'run') {
      file = line.file
      if (!began.includes(file)) began.push(file)
      plan.fileStarted ??= {}
      plan.fileStarted[file] ??= line.at
    }
    if (line.kind === 'test') tests.set(line.test, { at: line.at, killAfter: line.killAfter, retries: line.retries ?? 0, repeats: line.repeats ?? 0, retry: 0, repeat: 0, retried: 0 })
    else if (line.kind === 'try') {
      const test = tests.get(line.test)
      if (test) Object.assign(test, { retry: line.retry, repeat: line.repeat ?? 0, retried: line.retried ?? 0 })
    }
    else if (line.kind === 'result') {
      tests.delete(line.test)
      const { kind: _kind, test: _test, ...recorded } = line
      plan.finished[line.test] = recorded
    } else if (line.kind === 'run') runs.set(line.seq, line)
    else if (line.kind === 'done') runs.delete(line.seq)
  }
  const open = (id: string) => !plan.finished[id] && !plan.failed[id]

  if (death.stop) {
    const { stop, run } = death.stop
    const failure = failed(stop, root)
    if (run.test) fail(plan, run.test, failure, tests.get(run.test))
    else if (run.suite && run.hook) plan.failedSuites[run.suite] = { kind: run.hook, error: firstError(failure) }
    else notRun(plan, run.file, String(firstError(failure).message), firstError(failure))
    // Tests that ran beside it (test.concurrent) are not to blame: they run again in the fresh worker.
    return finishedBefore(began, file)
  }

  const running = [...tests].filter(([id]) => open(id))
  const hooks = [...runs.values()].filter((run) => run.suite && run.hook && !plan.failedSuites[run.suite])
  if (running.length > 0) {
    for (const [id, test] of running) fail(plan, id, failed(crash(death, test.at, test.killAfter, 'this test'), root), test)
  } else if (hooks.length > 0) {
    // Inside a beforeAll/afterAll: that suite fails, the others run.
    for (const hook of hooks) {
      plan.failedSuites[hook.suite!] = { kind: hook.hook as SuiteHookKind, error: firstError(failed(crash(death, hook.at, hook.budget, `the ${hook.hook} hook of this suite`), root)) }
    }
  } else {
    // Not inside a test: in a hook, the file's import, or the teardown.
    // Running again would die again, so the next worker only reports.
    notRun(plan, file, `The worker died outside any test (${describeExit({ signal: death.signal, exitCode: death.code })}): in a hook, the import of the file or its teardown. vitest-watchdog reported the tests that had finished; the others did not run.`)
  }
  return finishedBefore(began, file)
}

/** Every file begun before `current`: a worker runs one file at a time, so those had ended. */
function finishedBefore(began: string[], current: string): string[] {
  return began.filter((file) => file !== current)
}

/** The run request, without the files an earlier worker finished: they were reported already. */
export function withoutFiles<T>(request: T, finished: readonly string[]): T {
  const context = (request as { context?: { files?: Array<{ filepath: string }> } }).context
  if (!context?.files || finished.length === 0) return request
  return { ...request, context: { ...context, files: context.files.filter((file) => !finished.includes(file.filepath)) } }
}

/** A test as its journal tells it: its attempts (the test's own counts) and where the last one was. */
interface Attempts {
  at: number
  killAfter: number | null
  retries: number
  repeats: number
  retry: number
  repeat: number
  retried: number
}

/**
 * The attempt under way failed with `failure`. As Vitest would: the test
 * goes on with the next retry of that repeat, or else the next repeat (then
 * it fails whatever the rest does); with none left, it fails, carrying the
 * errors of the earlier attempts.
 */
function fail(plan: ResumePlan, id: string, failure: RecordedTest, test: Attempts | undefined): void {
  const earlier = plan.continued?.[id]
  const errors = [...(earlier?.errors ?? []), ...((failure.result.errors as unknown[]) ?? [])]
  const failedBefore = earlier?.failed ?? false
  if (test && test.retry < test.retries) {
    plan.continued = { ...plan.continued, [id]: { repeat: test.repeat, retry: test.retry + 1, retriesBefore: test.retried + 1, errors, failed: failedBefore } }
    return
  }
  if (test && test.repeat < test.repeats) {
    plan.continued = { ...plan.continued, [id]: { repeat: test.repeat + 1, retry: 0, retriesBefore: test.retried, errors, failed: true } }
    return
  }
  if (plan.continued) delete plan.continued[id]
  plan.failed[id] = { ...failure, result: { ...failure.result, errors, retryCount: test?.retried ?? 0, repeatCount: test?.repeat ?? 0 } }
}

function notRun(plan: ResumePlan, file: string, reason: string, error: Record<string, unknown> = fileCrashError(reason)): void {
  if (plan.notRun[file] || plan.notRun['*']) throw new WatchdogResumeError(`the worker died again while only reporting the results of this file (${reason})`)
  plan.notRun[file] = { reason, error }
}

function crash(death: Death, at: number, killAfter: number | null, during: string): Stop {
  return {
    subject: 'Test',
    stage: 'kill',
    reason: 'crashed',
    killAfter: killAfter ?? 0,
    budgetSource: 'its budget',
    grace: 0,
    elapsedMs: Math.max(0, Date.now() - at),
    location: null,
    stack: '',
    crash: { signal: death.signal, exitCode: death.code },
    during,
    resumed: true,
  }
}

function failed(stop: Stop, root: string): RecordedTest {
  return { result: { state: 'fail', errors: [serializeStop(stop, root)], duration: Math.round(stop.elapsedMs), retryCount: 0, repeatCount: 0 } }
}

function firstError(recorded: RecordedTest): Record<string, unknown> {
  return (recorded.result.errors as Array<Record<string, unknown>>)[0]!
}
