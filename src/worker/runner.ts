/**
 * The test runner Vitest loads in every worker when the plugin is on.
 *
 * It runs each test body in a fresh microtask, raced against the watchdog:
 * - stage `abort`: at the budget, it aborts the test's `context.signal`
 *   (Vitest then rejects the test) and lets cooperative code clean up;
 * - stage `interrupt`: `grace` later the helper thread, which has been
 *   watching the shared deadline, pauses this thread through the inspector
 *   and terminates the stuck JavaScript. This runner then fails the test with
 *   the location the helper recorded and carries on with the next test.
 *
 * The body runs in its own microtask so that termination, which unwinds the
 * whole JavaScript stack of the current task, never unwinds the runner.
 */
import { Worker } from 'node:worker_threads'
import { TestRunner, type RunnerTestCase, type RunnerTestFile, type RunnerTestSuite, type TestContext } from 'vitest'
import type { SerializedConfig } from 'vitest'
import { TestStoppedError } from '../shared/errors.js'
import { DEFAULT_GRACE_MS, PROVIDE_KEY, type WorkerSettings } from '../shared/options.js'
import { ENV_KILL_LOG } from '../shared/resume.js'
import { resolveBudget, type Budget } from './budget.js'
import { createChannel, DEADLINE, RUN, STARTED, type Channel, type HelperData, type RunningTest, type Verdict } from './channel.js'
import { absoluteNow, realClearTimeout, unrefTimer } from './clock.js'
import { GatedSignal } from './cancel-gate.js'
import { journalEnd, journalStart, restoredResult, resumePlan } from './journal.js'
import { CRASHED_CODE } from '../shared/report.js'
import { installFrameMapper, stuckLocation } from './stuck-location.js'

/**
 * How long the runner waits for the helper's verdict once the helper has
 * claimed a test: the whole interrupt stage (grace) plus the helper's own
 * bounded inspector calls. Past it the helper has killed the process anyway.
 */
const VERDICT_MARGIN_MS = 5_000
/**
 * The helper steps in this long after the abort stage ends. An idle thread
 * (an async hang) ends its own abort stage with a timer that fires on time;
 * the margin keeps the helper from pausing an idle thread because that timer
 * ran a little late on a loaded machine. A busy thread pays it once per hang.
 */
const IDLE_MARGIN_MS = 200

interface Pending {
  seq: number
  resolve(verdict: Verdict): void
}

class Helper {
  readonly channel: Channel = createChannel()
  private readonly worker: Worker
  private pending: Pending | null = null

  constructor(grace: number, killLogFile: string | null) {
    const data: HelperData = { sab: this.channel.sab, grace, killLogFile }
    this.worker = new Worker(new URL('./helper.js', import.meta.url), { workerData: data, name: 'vitest-watchdog helper' })
    // The helper must never keep the test process alive.
    this.worker.unref()
    this.worker.on('message', (verdict: Verdict) => {
      if (this.pending?.seq === verdict.seq) this.pending.resolve(verdict)
    })
    this.worker.on('error', (error) => {
      process.stderr.write(`vitest-watchdog: the helper thread failed, hung tests will not be interrupted in this worker: ${error.stack ?? error}\n`)
    })
  }

  /** Who is running, in case the helper has to kill this worker and leave a record. */
  started(test: RunningTest): void {
    this.worker.postMessage(test)
  }

  /** Resolves when the helper reports on test `seq`. */
  verdictFor(seq: number): Promise<Verdict> {
    return new Promise((resolve) => {
      this.pending = { seq, resolve }
    })
  }
}

let sequence = 0

export default class WatchdogRunner extends TestRunner {
  private settings: WorkerSettings | undefined
  private helper: Helper | undefined
  private readonly signals = new WeakMap<object, GatedSignal>()
  private readonly defaultTimeout: number

  constructor(config: SerializedConfig) {
    super(config)
    // The watchdog owns the default test timeout: with Vitest's own timer
    // switched off, a test gets the ladder (abort, then interrupt) at its
    // budget instead of a plain rejection that leaves its code running.
    // A timeout passed to a single test still applies as Vitest defines it.
    this.defaultTimeout = config.testTimeout
    config.testTimeout = 0
  }

  private setup(): { settings: WorkerSettings; helper: Helper } {
    if (!this.settings) {
      const provided = this.injectValue(PROVIDE_KEY) as WorkerSettings | undefined
      this.settings = provided ?? { killAfter: null, grace: DEFAULT_GRACE_MS, killLogFile: null }
      installFrameMapper()
      this.helper = new Helper(this.settings.grace, process.env[ENV_KILL_LOG] ?? this.settings.killLogFile)
    }
    return { settings: this.settings, helper: this.helper! }
  }

  override extendTaskContext(context: TestContext): TestContext {
    const extended = super.extendTaskContext(context)
    // Vitest keeps the controller of `context.signal` private; a signal that
    // follows both Vitest's and ours lets the abort stage use the test's own
    // signal, which Vitest already turns into a rejection of the test.
    const gated = new GatedSignal(extended.signal)
    this.signals.set(extended.task, gated)
    ;(extended as { signal: AbortSignal }).signal = gated.signal
    return extended
  }

  override async onBeforeRunTask(test: RunnerTestCase): Promise<void> {
    await super.onBeforeRunTask(test)
    const restored = restoredResult(test)
    if (restored) {
      // A resumed worker: report what an earlier worker recorded. Vitest skips
      // the body and the hooks of a task whose mode is not "run", and sends
      // the result as set here.
      test.mode = 'skip'
      test.result = restored as RunnerTestCase['result']
      return
    }
    if (test.mode === 'run' || test.mode === 'queued') journalStart(test, this.budgetOf(test)?.ms ?? null)
  }

  /**
   * A worker started only to report (the file's worker died outside any test
   * and resuming again would repeat that): no hook runs, every test reports
   * what was recorded or "not run", and the file carries the reason.
   */
  onCollected(files: RunnerTestFile[]): void {
    const plan = resumePlan()
    if (!plan?.notRun) return
    for (const file of files) {
      forEachSuite(file, (suite) => {
        const hooks = TestRunner.getSuiteHooks(suite) as unknown as Record<string, unknown> | undefined
        for (const list of Object.values(hooks ?? {})) if (Array.isArray(list)) list.length = 0
      })
    }
  }

  override async onAfterRunSuite(suite: RunnerTestSuite): Promise<void> {
    await super.onAfterRunSuite(suite)
    const plan = resumePlan()
    if (plan?.notRun && 'filepath' in suite && suite.result) {
      const error = { name: 'WorkerCrashError', code: CRASHED_CODE, message: plan.notRun, stack: `WorkerCrashError: ${plan.notRun}` }
      suite.result = { ...suite.result, state: 'fail', errors: [...(suite.result.errors ?? []), error] }
    }
  }

  override onAfterRunTask(test: RunnerTestCase): void {
    super.onAfterRunTask(test)
    journalEnd(test)
  }

  private resolve(test: RunnerTestCase): Budget {
    const vitestTimeout = test.timeout > 0
      ? { ms: test.timeout, source: 'the timeout argument of the test' }
      : { ms: this.defaultTimeout, source: 'Vitest testTimeout' }
    return resolveBudget(test, this.setup().settings, vitestTimeout, this.config.tags)
  }

  /** The budget for the journal; an invalid one fails the test in runTask, with its message. */
  private budgetOf(test: RunnerTestCase): Budget | null {
    try {
      return this.resolve(test)
    } catch {
      return null
    }
  }

  async runTask(test: RunnerTestCase): Promise<void> {
    const fn = TestRunner.getTestFn(test)
    const { settings, helper } = this.setup()
    const budget = this.resolve(test)
    if (budget.ms === 0) return fn()

    const { channel } = helper
    const seq = ++sequence
    const start = absoluteNow()
    channel.times[STARTED] = start
    channel.times[DEADLINE] = start + budget.ms + settings.grace + IDLE_MARGIN_MS
    const verdict = helper.verdictFor(seq)
    helper.started({ seq, file: test.file.filepath, name: fullTestName(test), killAfter: budget.ms, budgetSource: budget.source, startedAt: start })
    Atomics.store(channel.run, RUN, seq)
    Atomics.notify(channel.run, RUN)

    const gate = this.signals.get(test)
    let abortError: TestStoppedError | undefined
    const abortTimer = unrefTimer(() => {
      // Already claimed by the helper (this timer can fire right after an
      // interrupt, before the verdict arrives): the helper's stop stands.
      if (Atomics.load(channel.run, RUN) !== seq) return
      abortError = new TestStoppedError({ stage: 'abort', elapsedMs: absoluteNow() - start, killAfter: budget.ms, budgetSource: budget.source, location: null, root: this.config.root })
      gate?.abort(abortError)
    }, budget.ms)
    // The end of the abort stage, seen from this thread. It can only fire when
    // the thread is idle: the test is waiting on something that will never
    // come, and no JavaScript is left to interrupt.
    let expire: (value: 'expired') => void = () => {}
    const expired = new Promise<'expired'>((resolve) => (expire = resolve))
    const abortStageEnd = unrefTimer(() => {
      if (Atomics.compareExchange(channel.run, RUN, seq, 0) === seq) expire('expired')
    }, budget.ms + settings.grace)

    // A fresh microtask: the runner's own frames are not on the stack that an interrupt unwinds.
    const body = Promise.resolve().then(() => (gate ? gate.start(fn) : fn()))
    const settled = body.then(() => ({ ok: true as const }), (error: unknown) => ({ ok: false as const, error }))
    const outcome = await Promise.race([settled, verdict, expired])
    realClearTimeout(abortTimer)
    realClearTimeout(abortStageEnd)

    if (outcome === 'expired') {
      Atomics.notify(channel.run, RUN)
      gate?.release()
      throw this.abortStop(test, start, budget, `No JavaScript was running: it was waiting on a promise that never settled, and did not settle within ${settings.grace}ms of its signal being aborted.`)
    }
    if ('kind' in outcome) return this.fail(outcome, start, budget, settings.grace, channel)
    if (Atomics.compareExchange(channel.run, RUN, seq, 0) !== seq) {
      // The helper claimed the test just as it settled: its verdict decides.
      const late = await Promise.race([verdict, delay(settings.grace + VERDICT_MARGIN_MS)])
      if (late) return this.fail(late, start, budget, settings.grace, channel)
      Atomics.store(channel.run, RUN, 0)
    }
    Atomics.notify(channel.run, RUN)
    if (abortError) {
      // Settled after the abort, within grace: the abort stage stopped it.
      // Report the moment it settled, which is when its cleanup had run.
      throw this.abortStop(test, start, budget, 'It settled after its signal was aborted.')
    }
    if (!outcome.ok) throw outcome.error
  }

  /**
   * No JavaScript was stopped, so there is no stuck frame: the stack points at
   * the test itself (when Vitest recorded where it is) rather than at the
   * watchdog's own code.
   */
  private abortStop(test: RunnerTestCase, start: number, budget: Budget, note: string): TestStoppedError {
    const error = new TestStoppedError({ stage: 'abort', elapsedMs: absoluteNow() - start, killAfter: budget.ms, budgetSource: budget.source, location: null, root: this.config.root, note })
    const at = test.location ? `\n    at ${test.file.filepath}:${test.location.line}:${test.location.column}` : ''
    error.stack = `${error.name}: ${error.message}${at}`
    return error
  }

  private fail(verdict: Verdict, start: number, budget: Budget, grace: number, channel: Channel): never {
    Atomics.store(channel.run, RUN, 0)
    Atomics.notify(channel.run, RUN)
    const mapped = stuckLocation(verdict.frames)
    const error = new TestStoppedError({
      stage: 'interrupt',
      elapsedMs: absoluteNow() - start,
      killAfter: budget.ms,
      budgetSource: budget.source,
      location: mapped.location,
      root: this.config.root,
      note: `Its signal was aborted and ignored for ${grace}ms, so the running JavaScript was terminated; the worker goes on.`,
    })
    error.stack = `${error.name}: ${error.message}\n${mapped.stack}`
    throw error
  }
}

/** "describe > test", as Vitest's reporters name a test. */
function fullTestName(test: RunnerTestCase): string {
  return (test as { fullTestName?: string }).fullTestName || test.name
}

function forEachSuite(suite: RunnerTestSuite, visit: (suite: RunnerTestSuite) => void): void {
  visit(suite)
  for (const task of suite.tasks) if (task.type === 'suite') forEachSuite(task, visit)
}

function delay(ms: number): Promise<null> {
  return new Promise((resolve) => unrefTimer(() => resolve(null), ms))
}
