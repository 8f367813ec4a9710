/**
 * The test runner Vitest loads in every worker when the plugin is on.
 *
 * Every test body, hook and test-file import runs under a Guard (guard.ts),
 * which journals the run before its code starts (journal.ts) and owns stage
 * `abort`: at the budget, the test's `context.signal` is aborted and
 * cooperative code gets `grace` ms to settle. Stages `interrupt` and `kill`
 * are the main process's (host/ladder/): it reads the journal, pauses this
 * thread through the inspector, asks the guard's endpoint what is stuck, and
 * terminates the stuck JavaScript or kills the worker; the pool worker then
 * resumes the file in a fresh one, which this runner feeds from the resume
 * plan (journal.ts).
 */
import { syncBuiltinESMExports } from 'node:module'
import { relative } from 'node:path'
import { TestRunner, type RunnerTaskResult, type RunnerTestCase, type RunnerTestFile, type RunnerTestSuite, type SerializedConfig, type TestContext } from 'vitest'
import { ENDPOINT_KEY, ENDPOINT_SYMBOL, type Endpoint } from '../shared/endpoint.js'
import { leakError, serializeError, WatchdogOptionError } from '../shared/errors.js'
import { WORKER_ENV, type RecordedTest } from '../shared/journal.js'
import { checkLeakMode, DEFAULT_GRACE_MS, PROVIDE_KEY, type WorkerSettings } from '../shared/options.js'
import { isWatchdogPool, POOL_NAMES } from '../shared/pools.js'
import { STARTED_META_KEY, LEAKS_META_KEY, type LeakMode } from '../shared/report.js'
import { importBudget, resolveBudget, type Budget } from '../shared/budget.js'
import { realClearImmediate, realSetImmediate } from '../shared/clock.js'
import { GatedSignal } from '../shared/cancel-gate.js'
import { Guard, type GuardSpec } from './guard.js'
import { definitionOf, noteDefinition } from './definition.js'
import { Continuations } from './continue-attempts.js'
import { nameProject } from '../shared/project-name.js'
import { closeJournal, journalResult, journalTest, journalTry, notRunOf, restoredResult, resumePlan, workerStart } from './journal.js'
import { checkRunnerInternals } from './vitest-internals.js'
import { callWithoutVitestTimer, ownTimeoutOf, takeOverVitestTimers } from '../shared/vitest-timers.js'
import { createdByUser, describeLeak, firstFromEarlier, leaksOf, unattributedLeaks } from './leaks/check.js'
import { installLeakTracking } from './leaks/patches.js'
import { installChildMarks } from './child-mark.js'
import { aliveFor, testEnded, testStarted } from './leaks/registry.js'
import { fullTestName, retryCount } from '../shared/test-task.js'
import { ArrayIsArray, ArrayPrototypeFilter, ArrayPrototypeIncludes, ArrayPrototypeMap, ArrayPrototypeSome, DateNow, MathMax, ObjectAssign, ObjectDefineProperty, ObjectKeys, PromisePrototypeThen, PromiseResolve, RegExpPrototypeTest, WeakMapPrototypeGet, WeakMapPrototypeSet } from '../shared/intrinsics.js'

// The inspector is needed only after a stop: loaded then, through the loader of load time (a test may stub `process`).
const getBuiltinModule = process.getBuiltinModule

/** The pools whose workers are threads of Vitest's own process. */
const THREAD_POOLS: readonly string[] = [POOL_NAMES.threads, POOL_NAMES.vmThreads]

type HookKind = 'beforeAll' | 'afterAll' | 'beforeEach' | 'afterEach'
const GUARDED_HOOKS: readonly HookKind[] = ['beforeAll', 'afterAll', 'beforeEach', 'afterEach']

type AnyFn = (...args: unknown[]) => unknown

/** The guarded run of a test file's import. */
const IMPORT_RUN_NAME = '(import)'

/**
 * A debugger session must never be cut short. A worker started under
 * --inspect, --inspect-brk or --inspect-wait stands down for good; that is
 * read from the execArgv it was started with (workerStart), never from what a
 * test pushes later. A debugger attached later is the main process's to see,
 * at each stop, through the inspector itself (host/ladder/).
 */
function startedUnderDebugger(): boolean {
  return ArrayPrototypeSome(workerStart().execArgv, (arg) => RegExpPrototypeTest(/^--inspect(-brk|-wait)?(=|$)/, arg))
}

export default class WatchdogRunner extends TestRunner {
  private settings: WorkerSettings | undefined
  private guard: Guard | undefined
  private readonly signals = new WeakMap<object, GatedSignal>()
  /** A resumed worker: tests that go on with their retries and repeats where a dead worker left them. */
  private readonly continuations = new Continuations()
  /** A resumed worker: suites whose beforeAll failed this time, with the error (see wrapHook). */
  private readonly resumedBeforeAllFailures = new Map<string, unknown>()
  private readonly defaultTestTimeout: number
  private readonly defaultHookTimeout: number
  /** Set when the worker was started under a debugger: the watchdog leaves Vitest exactly as it is. */
  private readonly standDown: boolean
  /** A thread of Vitest's own process (threads pools), told by the pool without loading node:worker_threads in a worker process. */
  private readonly inThread: boolean

  constructor(config: SerializedConfig) {
    checkRunnerInternals()
    super(config)
    // The journal, notes and resume plan belong to the watchdog's own pools,
    // which set them per worker: under any other pool they can only be
    // leftovers of an outer environment, never this worker's.
    if (!isWatchdogPool(config.pool)) for (const name of WORKER_ENV) delete process.env[name]
    workerStart()
    this.inThread = ArrayPrototypeIncludes(THREAD_POOLS, config.pool)
    this.defaultTestTimeout = config.testTimeout
    this.defaultHookTimeout = config.hookTimeout
    this.standDown = startedUnderDebugger() || config.inspector?.enabled === true
    // Before any test file is imported, so every resource a test creates goes through the wrapped APIs.
    if (this.setup().settings.leaks !== 'off') installLeakTracking()
    installChildMarks()
    // ESM imports of the patched node: modules see the wrapped functions (one pass over every builtin for both).
    syncBuiltinESMExports()
    if (!this.standDown) {
      // The watchdog owns the default timeouts: with Vitest's own timers
      // switched off, a test or hook gets the ladder at its budget instead of
      // a plain rejection that leaves its code running. A timeout passed to a
      // single test or hook is its budget, and Vitest's timer for it is never armed.
      config.testTimeout = 0
      config.hookTimeout = 0
    }
  }

  private setup(): { settings: WorkerSettings; guard: Guard } {
    if (!this.settings) {
      const provided = this.injectValue(PROVIDE_KEY) as WorkerSettings | undefined
      this.settings = provided ?? { killAfter: null, grace: DEFAULT_GRACE_MS, importKillAfter: null, leaks: 'report', runDeadline: null }
      const guard = new Guard(() => endpoint.closeInspector())
      let pendingClose: ReturnType<typeof setImmediate> | undefined
      this.guard = guard
      const endpoint: Endpoint = {
        pid: workerStart().pid,
        inspect: (seq, frames, requireUserFrame) => guard.inspect(seq, frames, requireUserFrame),
        deliver: (seq) => guard.deliver(seq),
        closeInspector: () => {
          pendingClose ??= realSetImmediate(() => {
            pendingClose = undefined
            getBuiltinModule('node:inspector').close()
          })
        },
        keepInspector: () => {
          if (pendingClose) realClearImmediate(pendingClose)
          pendingClose = undefined
        },
      }
      ObjectDefineProperty(process, ENDPOINT_KEY, { value: endpoint, configurable: true })
      ObjectDefineProperty(globalThis, Symbol.for(ENDPOINT_SYMBOL), { value: endpoint, configurable: true })
    }
    return { settings: this.settings, guard: this.guard! }
  }

  /** Runs `fn` under the ladder, unless the worker was started under a debugger. */
  private guarded<T>(spec: () => GuardSpec, fn: () => T | PromiseLike<T>): Promise<T> | T | PromiseLike<T> {
    if (this.standDown) return fn()
    return this.setup().guard.run(this.clampToRunDeadline(spec()), fn)
  }

  /**
   * With runTimeout, nothing may run past the run's deadline: the closer of
   * the two budgets applies. Except the import of a file being resumed: the
   * file must be collected to report what the dead worker recorded (its
   * tests that did not run are then skipped for the deadline), and it
   * imported in time once already.
   */
  private clampToRunDeadline(spec: GuardSpec): GuardSpec {
    const deadline = this.setup().settings.runDeadline
    if (deadline === null) return spec
    if (spec.name === IMPORT_RUN_NAME && resumePlan() !== null) return spec
    const left = MathMax(1, deadline - DateNow())
    if (spec.budget.ms !== 0 && spec.budget.ms <= left) return spec
    return { ...spec, budget: { ms: left, source: 'watchdog({ runTimeout }): the run deadline' } }
  }

  override extendTaskContext(context: TestContext): TestContext {
    const extended = super.extendTaskContext(context)
    if (this.standDown) return extended
    noteDefinition(extended.task)
    // Vitest keeps the controller of `context.signal` private; a signal that
    // follows both Vitest's and ours lets the abort stage use the test's own
    // signal, which Vitest already turns into a rejection of the test.
    const gated = new GatedSignal(extended.signal)
    WeakMapPrototypeSet(this.signals, extended.task, gated)
    ;(extended as { signal: AbortSignal }).signal = gated.signal
    return extended
  }

  override importFile(filepath: string, source: Parameters<TestRunner['importFile']>[1]): unknown {
    if (!this.standDown) takeOverVitestTimers()
    if (source !== 'collect') return super.importFile(filepath, source)
    const name = relative(this.config.root, filepath)
    return this.guarded(() => {
      const { settings } = this.setup()
      const budget = importBudget(settings)
      return { ...this.common(), subject: `Import of "${name}"`, budget, file: filepath, name: IMPORT_RUN_NAME }
    }, () => super.importFile(filepath, source))
  }

  /**
   * Wraps every hook in the ladder, and, in a worker started only to report
   * (its file's worker died outside any test, and resuming again would
   * repeat that), removes them: no hook runs, every test reports what was
   * recorded or "not run", and the file carries the reason.
   */
  onCollected(files: RunnerTestFile[]): void {
    for (const file of files) {
      const reportOnly = !!notRunOf(file.filepath)
      forEachSuite(file, (suite) => {
        const hooks = TestRunner.getSuiteHooks(suite) as unknown as Partial<Record<string, unknown[]>> | undefined
        if (!hooks) return
        const kinds = ObjectKeys(hooks)
        for (let k = 0; k < kinds.length; k++) {
          const kind = kinds[k]!
          const list = hooks[kind]
          if (!ArrayIsArray(list)) continue
          if (reportOnly) list.length = 0
          else if (!this.standDown && ArrayPrototypeIncludes(GUARDED_HOOKS as readonly string[], kind)) {
            for (let i = 0; i < list.length; i++) list[i] = this.wrapHook(kind as HookKind, suite, list[i] as AnyFn)
          }
        }
      })
    }
  }

  private wrapHook(kind: HookKind, suite: RunnerTestSuite, hook: AnyFn): AnyFn {
    const runner = this
    const suiteLevel = kind === 'beforeAll' || kind === 'afterAll'
    // `beforeAll(fn, 2000)`: the hook's own timeout is its budget, as the test's is.
    const own = ownTimeoutOf(hook)
    const timeout: Budget | undefined = own !== undefined ? { ms: own, source: "the hook's timeout" } : undefined
    const wrapped = function (this: unknown, ...args: unknown[]) {
      const result = runner.guarded(() => {
        const spec = runner.hookSpec(kind, suite, args, timeout)
        return suiteLevel ? { ...spec, suite: { id: suite.id, hook: kind } } : spec
      }, () => (timeout ? callWithoutVitestTimer(hook, () => hook.apply(this, args)) : hook.apply(this, args)))
      if (kind !== 'beforeAll' || !resumePlan()) return result
      // A resumed worker runs beforeAll again. If it fails this time (it was
      // not meant to run twice), Vitest would mark every test of the suite
      // skipped, the ones the first worker recorded and the stopped one
      // included: the error is kept for the suite instead, and only the tests
      // that had not run are skipped (onBeforeRunTask, onAfterRunSuite).
      return PromisePrototypeThen(PromiseResolve(result), undefined, (error: unknown) => {
        runner.resumedBeforeAllFailures.set(suite.id, error)
      })
    }
    // Vitest keeps cleanup settings on the hook function itself (symbol keys).
    return ObjectAssign(wrapped, hook)
  }

  private hookSpec(kind: HookKind, suite: RunnerTestSuite, args: unknown[], own: Budget | undefined): GuardSpec {
    const hookTimeout = own ?? this.hookTimeout()
    const { settings } = this.setup()
    const subject = `Hook "${kind}"`
    if (kind === 'beforeEach' || kind === 'afterEach') {
      const test = (args[0] as TestContext | undefined)?.task as RunnerTestCase | undefined
      if (test) {
        return this.testSpec(test, `${subject} of test "${fullTestName(test)}"`, resolveBudget(test, settings, hookTimeout, this.config.tags), WeakMapPrototypeGet(this.signals, test))
      }
    }
    const where = 'filepath' in suite ? 'of the file' : `of describe "${suite.name}"`
    return {
      ...this.common(),
      subject: `${subject} ${where}`,
      budget: resolveBudget(suite, settings, hookTimeout, this.config.tags),
      file: suite.file.filepath,
      name: `${kind} ${where}`,
    }
  }

  private common(): Pick<GuardSpec, 'grace' | 'root'> {
    return { grace: this.setup().settings.grace, root: this.config.root }
  }

  /**
   * A guarded run that belongs to `test`: its body (`body`), or one of its
   * hooks; `gate`: the test's signal, aborted at stage abort. One object
   * literal, no spreads: this runs for every test.
   */
  private testSpec(test: RunnerTestCase, subject: string, budget: Budget, gate?: GatedSignal, body = false): GuardSpec {
    return {
      grace: this.setup().settings.grace,
      root: this.config.root,
      subject,
      budget,
      file: test.file.filepath,
      name: fullTestName(test),
      test: test.id,
      abort: gate ? (reason) => gate.abort(reason) : undefined,
      expire: body ? () => gate?.release() : undefined,
      definition: body ? () => definitionOf(test) : undefined,
    }
  }

  private hookTimeout(): Budget {
    return { ms: this.defaultHookTimeout, source: 'hookTimeout' }
  }

  override async onBeforeRunTask(test: RunnerTestCase): Promise<void> {
    await super.onBeforeRunTask(test)
    const restored = restoredResult(test)
    if (restored) {
      // A resumed worker: report what an earlier worker recorded. Vitest skips
      // the body and the hooks of a task whose mode is not "run", and sends
      // the result as set here.
      test.mode = 'skip'
      test.result = restored.result as RunnerTestCase['result']
      nameProject(test.result?.errors, this.setup().settings.project)
      if (restored.meta) ObjectAssign(test.meta, restored.meta)
      await this.restoreRecords(test, restored)
      return
    }
    if (test.mode !== 'run' && test.mode !== 'queued') return
    const attempts = { retries: retryCount(test), repeats: test.repeats ?? 0 }
    this.continuations.begin(test, resumePlan()?.continued?.[test.id])
    if (this.failedOnResume(test)) {
      test.mode = 'skip'
      test.result = { state: 'skip', note: 'not run: beforeAll failed when the file resumed in a fresh worker' } as RunnerTestCase['result']
      return
    }
    const deadline = this.setup().settings.runDeadline
    if (deadline !== null && DateNow() >= deadline) {
      test.mode = 'skip'
      test.result = { state: 'skip', note: 'not run: the run deadline (vitest-watchdog runTimeout) had passed' } as RunnerTestCase['result']
      return
    }
    const budget = this.budgetOf(test)?.ms ?? null
    journalTest(test, budget, attempts.retries, attempts.repeats)
    testStarted(test.id, test.file.filepath, fullTestName(test))
    // Sent with the test's "prepare" update: the report's running section says since when.
    ;(test.meta as Record<string, unknown>)[STARTED_META_KEY] = DateNow()
  }

  /**
   * Annotations and artifacts reach the main process as they are recorded;
   * the file collected again in a fresh worker starts without them, so they
   * are recorded again, through the same calls `context.annotate` makes.
   */
  private async restoreRecords(test: RunnerTestCase, restored: RecordedTest): Promise<void> {
    const runner = this as unknown as {
      onTestAnnotate?: (test: RunnerTestCase, annotation: unknown) => Promise<unknown>
      onTestArtifactRecord?: (test: RunnerTestCase, artifact: unknown) => Promise<unknown>
    }
    const task = test as { annotations?: unknown[] }
    for (const annotation of restored.annotations ?? []) {
      const resolved = await runner.onTestAnnotate?.(test, annotation).catch(() => annotation)
      task.annotations?.push(resolved ?? annotation)
    }
    for (const artifact of restored.artifacts ?? []) {
      if ((artifact as { type?: string }).type === 'internal:annotation') continue
      await runner.onTestArtifactRecord?.(test, artifact).catch(() => {})
    }
  }

  /**
   * A resumed worker: a suite whose beforeAll or afterAll was running when an
   * earlier worker died fails with that error, and Vitest skips its tests (as
   * for any failing beforeAll); the file's other suites run.
   */
  override async onBeforeRunSuite(suite: RunnerTestSuite): Promise<void> {
    await super.onBeforeRunSuite(suite)
    const failure = resumePlan()?.failedSuites?.[suite.id]
    if (!failure) return
    if (failure.kind === 'beforeAll') {
      suite.result = { state: 'fail', errors: [failure.error] } as RunnerTestSuite['result']
      return
    }
    // afterAll: its tests finished and report their recorded results; the
    // suite's own hooks do not run again, and the suite fails after them.
    const hooks = TestRunner.getSuiteHooks(suite) as unknown as Partial<Record<string, unknown[]>> | undefined
    for (const kind of ['beforeAll', 'afterAll']) if (Array.isArray(hooks?.[kind])) hooks[kind]!.length = 0
  }

  override onBeforeTryTask(test: RunnerTestCase, options?: { retry: number; repeats: number }): void {
    ;(super.onBeforeTryTask as (test: RunnerTestCase, options?: unknown) => void)(test, options)
    journalTry(test, this.continuations.attempt(test, options ?? { retry: 0, repeats: 0 }))
  }

  onAfterRetryTask(test: RunnerTestCase): void {
    this.continuations.afterAttempt(test)
  }

  /** A beforeAll of one of its suites failed when the file resumed. */
  private failedOnResume(test: RunnerTestCase): boolean {
    for (let suite: RunnerTestSuite | undefined = test.suite; suite; suite = suite.suite) if (this.resumedBeforeAllFailures.has(suite.id)) return true
    return this.resumedBeforeAllFailures.has(test.file.id)
  }

  override async onAfterRunSuite(suite: RunnerTestSuite): Promise<void> {
    await super.onAfterRunSuite(suite)
    if (this.resumedBeforeAllFailures.has(suite.id) && suite.result) {
      const error = this.resumedBeforeAllFailures.get(suite.id) as { name?: string; message?: string; stack?: string } | undefined
      const serialized = { name: error?.name ?? 'Error', message: String(error?.message ?? error), stack: error?.stack ?? '' }
      suite.result = { ...suite.result, state: 'fail', errors: [...(suite.result.errors ?? []), serialized] }
    }
    const failure = resumePlan()?.failedSuites?.[suite.id]
    if (failure && failure.kind !== 'beforeAll' && suite.result) {
      suite.result = { ...suite.result, state: 'fail', errors: [...(suite.result.errors ?? []), failure.error as unknown as NonNullable<RunnerTaskResult['errors']>[number]] }
    }
    const fileStarted = 'filepath' in suite ? resumePlan()?.fileStarted?.[suite.filepath as string] : undefined
    if (fileStarted !== undefined && suite.result) {
      // A resumed file: its duration counts from its start in the first worker, not this one's.
      suite.result.duration = MathMax(suite.result.duration ?? 0, DateNow() - fileStarted)
    }
    if ('filepath' in suite) {
      // Reported now, killed only when the worker stops (the pool worker's stop,
      // host/respawning-worker.ts): with isolate: false a file's end is not the
      // worker's, and code still running here (a pool library) would see its
      // processes die.
      const unattributed = await unattributedLeaks()
      if (unattributed.length > 0) (suite.meta as Record<string, unknown>)[LEAKS_META_KEY] = ArrayPrototypeMap(unattributed, (entry) => describeLeak(entry, this.config.root))
    }
    const notRun = 'filepath' in suite ? notRunOf(suite.filepath as string) : undefined
    if (notRun && suite.result) {
      suite.result = { ...suite.result, state: 'fail', errors: [...(suite.result.errors ?? []), notRun.error as unknown as NonNullable<RunnerTaskResult['errors']>[number]] }
    }
    nameProject(suite.result?.errors, this.setup().settings.project)
  }

  override async onAfterRunTask(test: RunnerTestCase): Promise<void> {
    super.onAfterRunTask(test)
    this.continuations.finish(test)
    await this.checkLeaks(test)
    nameProject(test.result?.errors, this.setup().settings.project)
    journalResult(test)
  }

  override onAfterRunFiles(): void {
    super.onAfterRunFiles()
    // A thread's descriptors are its process's, and would pile up there; a
    // worker process keeps its own, since a test may have removed the
    // scratch directory, and the file could not be opened again.
    if (this.inThread) closeJournal()
  }

  /**
   * Runs after the test's afterEach hooks: what the test (hooks included)
   * created and is still alive is its leak. The list travels in the test's
   * meta, so it reaches the main process, blob reports and merged shards.
   */
  private async checkLeaks(test: RunnerTestCase): Promise<void> {
    try {
      const mode = this.leakMode(test)
      if (mode !== 'off' && this.setup().settings.leaks === 'off') {
        // Tracking is installed per worker, before any test file loads, only
        // when the plugin asks for it: a test cannot turn it on alone.
        const error = new WatchdogOptionError('meta.leaks', mode, `meta of test "${fullTestName(test)}" (${test.file.name})`, `'off' while the plugin runs with watchdog({ leaks: 'off' }), which turns leak tracking off for the whole run; set the plugin's leaks to 'report' to let tests opt in`)
        if (test.result) test.result = { ...test.result, state: 'fail', errors: [...(test.result.errors ?? []), serializeError(error)] }
        return
      }
      if (mode === 'off') return
      const alive = aliveFor(test.id)
      // Nothing of the test's is alive (most tests): no wait, not even a turn of the microtask queue.
      if (alive.length === 0) return
      const leaked = ArrayPrototypeFilter(await leaksOf(alive), createdByUser)
      // What an earlier test's loop or pool created while this one ran is that
      // test's leak (leaks/chain.ts): reported once per line, failing nothing.
      const own = ArrayPrototypeFilter(leaked, (entry) => !entry.from)
      const earlier = ArrayPrototypeFilter(leaked, firstFromEarlier)
      if (own.length === 0 && earlier.length === 0) return
      const entries = ArrayPrototypeMap(own, (entry) => ({ ...describeLeak(entry, this.config.root), ...(mode === 'fail' ? { failed: true } : {}) }))
      ;(test.meta as Record<string, unknown>)[LEAKS_META_KEY] = [...entries, ...ArrayPrototypeMap(earlier, (entry) => describeLeak(entry, this.config.root))]
      if (mode === 'fail' && entries.length > 0 && test.result) {
        test.result = { ...test.result, state: 'fail', errors: [...(test.result.errors ?? []), leakError(entries, this.config.root)] }
      }
    } finally {
      testEnded(test.id)
    }
  }

  private leakMode(test: RunnerTestCase): LeakMode {
    const own = (test.meta as { leaks?: unknown }).leaks
    if (own !== undefined) return checkLeakMode('meta.leaks', own, `meta of test "${fullTestName(test)}" (${test.file.name})`)
    return this.setup().settings.leaks
  }

  /** onTestFinished and onTestFailed handlers are registered while the test runs: guard them once it has. */
  onTaskFinished(test: RunnerTestCase): void {
    if (this.standDown) return
    const handlersOf = test as unknown as Partial<Record<'onFinished' | 'onFailed', AnyFn[]>>
    for (const key of ['onFinished', 'onFailed'] as const) {
      const handlers = handlersOf[key]
      if (!handlers) continue
      const label = key === 'onFinished' ? 'onTestFinished' : 'onTestFailed'
      handlersOf[key] = ArrayPrototypeMap(handlers, (handler) => {
        const wrapped = (...args: unknown[]) => this.guarded(
          () => this.testSpec(test, `Hook "${label}" of test "${fullTestName(test)}"`, resolveBudget(test, this.setup().settings, this.hookTimeout(), this.config.tags)),
          () => handler(...args),
        )
        return ObjectAssign(wrapped, handler)
      })
    }
  }

  private resolve(test: RunnerTestCase): Budget {
    const vitestTimeout = test.timeout > 0
      ? { ms: test.timeout, source: "the test's timeout" }
      : { ms: this.defaultTestTimeout, source: 'testTimeout' }
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
    const gate = WeakMapPrototypeGet(this.signals, test)
    await this.guarded(() => this.testSpec(test, 'Test', this.resolve(test), gate, true), () => {
      const run = () => (gate ? gate.start(fn) : fn())
      // Standing down, Vitest's own timeouts are left as they are.
      return this.standDown ? run() : callWithoutVitestTimer(fn, run)
    })
  }
}

function forEachSuite(suite: RunnerTestSuite, visit: (suite: RunnerTestSuite) => void): void {
  visit(suite)
  for (const task of suite.tasks) if (task.type === 'suite') forEachSuite(task, visit)
}
