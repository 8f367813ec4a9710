/**
 * What a replacement worker is told when its predecessor died mid-file: the
 * tests that finished (with their results), the failure of what was running,
 * and what cannot be run again. Built from the dead worker's journal
 * (shared/journal.ts) and, for a stop, the watchdog's own record of it.
 */
import { serializeStop } from '../shared/errors.js'
import { parseJournal, type RecordedTest, type ResumePlan, type RunLine, type SuiteHookKind } from '../shared/journal.js'
import type { Stop } from '../shared/stop.js'

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
 * Adds the dead worker's record to `plan`, and returns the files the dead
 * worker had finished before the one it died in (with isolate: false a worker
 * runs file after file): the replacement must not run or report them again.
 * Throws when the file cannot be resumed again (it already died outside any
 * test once): Vitest is then told the worker exited.
 */
export function recordDeath(plan: ResumePlan, journalText: string, death: Death, root: string): string[] {
  const tests = new Map<string, { at: number; killAfter: number | null; retries: number; tried: number }>()
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
    if (line.kind === 'test') tests.set(line.test, { at: line.at, killAfter: line.killAfter, retries: line.retries ?? 0, tried: 0 })
    else if (line.kind === 'try') {
      const test = tests.get(line.test)
      if (test) test.tried = line.retry
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
    notRun(plan, file, `The worker died outside any test (${exit(death)}): in a hook, the import of the file or its teardown. vitest-watchdog reported the tests that had finished; the others did not run.`)
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

/** A test fails with `failure`, unless it has retries left: then it runs again, the failure kept as an earlier attempt's. */
function fail(plan: ResumePlan, id: string, failure: RecordedTest, test: { retries: number; tried: number } | undefined): void {
  if (test && test.tried < test.retries) {
    const earlier = plan.retried?.[id]?.errors ?? []
    plan.retried = { ...plan.retried, [id]: { next: test.tried + 1, errors: [...earlier, ...((failure.result.errors as unknown[]) ?? [])] } }
    return
  }
  plan.failed[id] = failure
}

function notRun(plan: ResumePlan, file: string, reason: string, error?: Record<string, unknown>): void {
  if (plan.notRun[file] || plan.notRun['*']) throw new Error(`vitest-watchdog: the worker died again while only reporting the results of this file (${reason}).`)
  plan.notRun[file] = { reason, ...(error ? { error } : {}) }
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

function exit(death: Death): string {
  return death.signal ? `killed by ${death.signal}` : `exit code ${death.code}`
}

function failed(stop: Stop, root: string): RecordedTest {
  return { result: { state: 'fail', errors: [serializeStop(stop, root)], duration: Math.round(stop.elapsedMs), retryCount: 0, repeatCount: 0 } }
}

function firstError(recorded: RecordedTest): Record<string, unknown> {
  return (recorded.result.errors as Array<Record<string, unknown>>)[0]!
}
