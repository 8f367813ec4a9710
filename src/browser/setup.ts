/**
 * The watchdog's page code: it runs in the tester frame (never in Node: no
 * node module may be imported here). Vitest's browser mode builds its own
 * runner and takes no `test.runner`, so this patches that runner instance,
 * once per frame, the way worker/runner.ts overrides Node's: every test body,
 * hook and the test file's import run under a BrowserGuard (guard.ts), and
 * Vitest's own default timeouts are switched off in favour of the ladder.
 *
 * Two ways in (host/browser/tester-html.ts chooses): a module script the
 * tester HTML runs before Vitest's tester, which leaves its installer on the
 * page state for the inline script there to call when Vitest assigns the
 * runner (no setup file: Vitest imports each one again, under a new URL, for
 * every test file); or, where that hook cannot be placed, a setup file, first
 * in `setupFiles`, which finds the runner already there.
 */
import { BROWSER_BINDING, BROWSER_ENDPOINT_KEY, DONE_COMMAND, MAP_COMMAND, PAGE_INSTALL_KEY, RUN_COMMAND, type BindingMessage, type BrowserEndpoint, type MappedStack } from '../shared/browser-protocol.js'
import { checkLeakMode } from '../shared/options.js'
import { LEAKS_META_KEY, type LeakMode } from '../shared/report.js'
import { PageTimers, TIMER_CLEANUP, TIMER_HINTS } from './leaks.js'
import { leakError, WatchdogUnsupportedVitestError } from '../shared/errors.js'
import { DEFAULT_GRACE_MS, PROVIDE_KEY, type WorkerSettings } from '../shared/options.js'
import { GatedSignal } from '../shared/cancel-gate.js'
import { nameProject } from '../shared/project-name.js'
import { importBudget, resolveBudget, type Budget } from '../shared/budget.js'
import { callWithoutVitestTimer, ownTimeoutOf, takeOverVitestTimers } from '../shared/vitest-timers.js'
import { BrowserGuard, type BrowserGuardSpec } from './guard.js'
import { PageRecords, PageResume } from './resume.js'
import { ArrayIsArray, ArrayPrototypeIncludes, ArrayPrototypeMap, DateNow, JSONParse, JSONStringify, MathMax, ObjectAssign, ObjectKeys, PromisePrototypeThen, StringPrototypeSlice, StringPrototypeStartsWith, WeakMapPrototypeGet, WeakMapPrototypeSet } from '../shared/intrinsics.js'

type AnyFn = (...args: unknown[]) => unknown
type HookKind = 'beforeAll' | 'afterAll' | 'beforeEach' | 'afterEach'
const GUARDED_HOOKS: readonly string[] = ['beforeAll', 'afterAll', 'beforeEach', 'afterEach']

interface Task {
  id: string
  name: string
  type: string
  mode: string
  meta: Record<string, unknown>
  timeout: number
  result?: { state: string; errors?: unknown[] }
  fullTestName?: string
  location?: { line: number; column: number }
  file: { filepath: string; name: string }
  suite?: Suite
  tasks?: Task[]
}
type Suite = Task & { filepath?: string; tasks: Task[] }

interface PageRunner {
  config: { root: string; testTimeout: number; hookTimeout: number; tags?: Array<{ name: string; meta?: Record<string, unknown> }> }
  constructor: { getTestFn(test: Task): AnyFn; getSuiteHooks(suite: Suite): Record<string, AnyFn[]> | undefined }
  runTask?: (test: Task) => Promise<void>
  onBeforeRunTask?: (test: Task) => unknown
  onAfterRunTask?: (test: Task) => unknown
  onAfterRunSuite?: (suite: Suite) => unknown
  importFile(filepath: string, source: string): unknown
  onCollected?: (files: Suite[]) => unknown
  extendTaskContext?: (context: { task: Task; signal: AbortSignal }) => { task: Task; signal: AbortSignal }
  __vitestWatchdog?: true
}

interface PageState {
  type?: string
  runner?: PageRunner
  commands?: { triggerCommand(name: string, args: unknown[]): Promise<unknown> }
  [PAGE_INSTALL_KEY]?: (runner: PageRunner) => void
}

const page = globalThis as unknown as {
  __vitest_browser_runner__?: PageState
  __vitest_worker__?: { providedContext?: Record<string, unknown> }
}

const state = page.__vitest_browser_runner__
// A Vitest whose page keeps these elsewhere must fail loudly, not run unguarded.
if (!state) throw new WatchdogUnsupportedVitestError('the browser page has no __vitest_browser_runner__')
// The orchestrator's page has the same state object and no tests: nothing to guard there.
if (state.type !== 'orchestrator') {
  state[PAGE_INSTALL_KEY] = (runner) => installOnce(runner, state)
  if (state.runner) installOnce(state.runner, state)
}

function installOnce(runner: PageRunner, state: PageState): void {
  if (typeof runner.importFile !== 'function' || typeof runner.constructor.getTestFn !== 'function' || typeof runner.constructor.getSuiteHooks !== 'function') throw new WatchdogUnsupportedVitestError('the browser page has no runner at __vitest_browser_runner__.runner with importFile, getTestFn and getSuiteHooks')
  if (!state.commands) throw new WatchdogUnsupportedVitestError('the browser page has no __vitest_browser_runner__.commands')
  if (!runner.__vitestWatchdog) install(runner, state.commands)
}

function install(runner: PageRunner, commands: NonNullable<PageState['commands']>): void {
  runner.__vitestWatchdog = true
  const root = runner.config.root
  // Vitest sets the provided context for each run request, after the runner
  // exists (when the tester HTML loads this code): the settings and the
  // resume plan are read when a request's first file is imported, and again
  // for each request a frame serves.
  let context: Record<string, unknown> | undefined
  let settings: WorkerSettings = DEFAULT_SETTINGS
  // A file resumed in a fresh page after a kill (resume.ts): the killed run fails instead of running again.
  let resume: PageResume | null = null
  // Wraps the page's timers (leaks.ts) once the settings say so, before the
  // test file and its setup files run; this module's frames are never the user's.
  const timers = new PageTimers(import.meta.url.split('?')[0]!)
  const current = (): WorkerSettings => {
    const provided = page.__vitest_worker__?.providedContext
    if (provided !== context) {
      context = provided
      settings = (provided?.[PROVIDE_KEY] as WorkerSettings | undefined) ?? DEFAULT_SETTINGS
      resume = PageResume.read(provided, root)
      if (settings.leaks !== 'off') timers.install()
    }
    return settings
  }
  // Failing to announce a run (the main process is gone) must not fail the test.
  const send = (name: string, payload: unknown) => PromisePrototypeThen(commands.triggerCommand(name, [payload]), undefined, () => {})
  const top = topWindow()
  // The main process's binding, once it has a CDP session on the page: one
  // message per call, no answer, where a browser command is a WebSocket
  // round trip through Vitest. Before it exists (the page's first run) and
  // in browsers without CDP, the commands carry the runs.
  const binding = () => top[BROWSER_BINDING] as ((payload: string) => void) | undefined
  const post = (message: BindingMessage): boolean => {
    const call = binding()
    if (typeof call !== 'function') return false
    call(JSONStringify(message))
    return true
  }
  // Each announcement carries what finished since the last one: a page closed at stage kill resumes from there (resume.ts).
  const records = new PageRecords()
  const guard = new BrowserGuard(
    (run) => {
      const announced = records.attach(run)
      return post({ kind: 'run', run: announced }) ? null : send(RUN_COMMAND, announced)
    },
    (seq) => void (post({ kind: 'done', frame: guard.frame, seq }) || send(DONE_COMMAND, { frame: guard.frame, seq })),
    () => typeof binding() === 'function',
  )
  // The main process's evaluation runs in the top window's realm: what it
  // passes is copied into this frame's, or Vitest would serialize the
  // verdict's objects as instances of a foreign class. The answer goes the
  // other way by value.
  const own = <T>(value: T): T => JSONParse(JSONStringify(value)) as T
  const endpoint: BrowserEndpoint = { state: (seq) => guard.state(seq), stop: (seq, stuck, verdict) => guard.stop(seq, own(stuck), own(verdict)) }
  const registry = (top[BROWSER_ENDPOINT_KEY] ??= {}) as Record<string, BrowserEndpoint>
  registry[guard.frame] = endpoint
  // A frame that is gone must leave no function of its own behind for the main process to call.
  ;(globalThis as unknown as { addEventListener(type: string, listener: () => void): void }).addEventListener('pagehide', () => delete registry[guard.frame])

  const defaultTestTimeout = runner.config.testTimeout
  const defaultHookTimeout = runner.config.hookTimeout
  // The ladder, not a bare rejection that leaves the code running, is what
  // happens at the timeout (a spinning page never runs Vitest's timer anyway).
  runner.config.testTimeout = 0
  runner.config.hookTimeout = 0
  const signals = new WeakMap<Task, GatedSignal>()

  const clamp = (spec: BrowserGuardSpec): BrowserGuardSpec => {
    const { runDeadline } = current()
    if (runDeadline === null) return spec
    const left = MathMax(1, runDeadline - DateNow())
    if (spec.budget.ms !== 0 && spec.budget.ms <= left) return spec
    return { ...spec, budget: { ms: left, source: 'watchdog({ runTimeout }): the run deadline' } }
  }
  const guarded = <T>(spec: () => BrowserGuardSpec, fn: () => T | PromiseLike<T>) => {
    const clamped = clamp(spec())
    return resume?.stopped(clamped) ?? guard.run(clamped, fn)
  }
  const name = (task: Task) => task.fullTestName || task.name
  const budgetOf = (task: Task, fallback: Budget) => resolveBudget(task as never, current(), fallback, runner.config.tags)

  const extend = runner.extendTaskContext?.bind(runner)
  runner.extendTaskContext = (context) => {
    const extended = extend ? extend(context) : context
    // The test's own signal, gated as in Node (shared/cancel-gate.ts): the abort stage gives it grace to settle.
    const gated = new GatedSignal(extended.signal)
    WeakMapPrototypeSet(signals, extended.task, gated)
    extended.signal = gated.signal
    return extended
  }

  runner.runTask = async (test: Task) => {
    const fn = runner.constructor.getTestFn(test)
    const gate = WeakMapPrototypeGet(signals, test)
    await guarded(() => ({
      subject: 'Test',
      budget: budgetOf(test, test.timeout > 0 ? { ms: test.timeout, source: "the test's timeout" } : { ms: defaultTestTimeout, source: 'testTimeout' }),
      grace: current().grace,
      root,
      file: test.file.filepath,
      name: name(test),
      definition: () => (test.location ? { file: test.file.filepath, ...test.location } : undefined),
      abort: gate ? (reason) => gate.abort(reason) : undefined,
      expire: () => gate?.release(),
    }), () => callWithoutVitestTimer(fn, () => (gate ? gate.start(fn) : fn())))
  }

  const importFile = runner.importFile.bind(runner)
  runner.importFile = (filepath, source) => {
    current()
    takeOverVitestTimers()
    if (source !== 'collect') return importFile(filepath, source)
    const file = StringPrototypeStartsWith(filepath, `${root}/`) ? StringPrototypeSlice(filepath, root.length + 1) : filepath
    const budget = importBudget(current())
    return guarded(() => ({ subject: `Import of "${file}"`, budget, grace: current().grace, root, file: filepath, name: '(import)' }), () => importFile(filepath, source))
  }

  // With runTimeout, a test that would start past the run's deadline is not run (as in Node).
  const beforeRun = runner.onBeforeRunTask?.bind(runner)
  runner.onBeforeRunTask = async (test) => {
    await beforeRun?.(test)
    const { runDeadline } = current()
    if (runDeadline !== null && DateNow() >= runDeadline && (test.mode === 'run' || test.mode === 'queued')) {
      test.mode = 'skip'
      test.result = { state: 'skip', note: 'not run: the run deadline (vitest-watchdog runTimeout) had passed' } as Task['result']
    }
  }

  installLeakChecks(runner, timers, () => current().leaks, (stacks) => commands.triggerCommand(MAP_COMMAND, [stacks]) as Promise<MappedStack[]>)

  // With several projects a stop's error names its project, as in Node (JUnit and others show only the error).
  const afterTask = runner.onAfterRunTask?.bind(runner)
  runner.onAfterRunTask = async (test) => {
    nameProject(test.result?.errors, current().project)
    await afterTask?.(test)
  }
  const afterSuite = runner.onAfterRunSuite?.bind(runner)
  runner.onAfterRunSuite = async (suite) => {
    nameProject(suite.result?.errors, current().project)
    await afterSuite?.(suite)
  }

  records.install(runner)
  // Installed last: the resume plan has the final word on a test.
  const beforeResume = runner.onBeforeRunTask.bind(runner)
  runner.onBeforeRunTask = async (test) => {
    await beforeResume(test)
    current()
    resume?.apply(test)
  }

  const collected = runner.onCollected?.bind(runner)
  runner.onCollected = (files) => {
    for (const file of files) forEachSuite(file, (suite) => {
      const hooks = runner.constructor.getSuiteHooks(suite)
      const kinds = ObjectKeys(hooks ?? {})
      for (let k = 0; k < kinds.length; k++) {
        const kind = kinds[k]!
        const list = hooks![kind]
        if (!ArrayIsArray(list) || !ArrayPrototypeIncludes(GUARDED_HOOKS, kind)) continue
        for (let i = 0; i < list.length; i++) list[i] = wrapHook(kind as HookKind, suite, list[i]!)
      }
    })
    return collected?.(files)
  }

  function wrapHook(kind: HookKind, suite: Suite, hook: AnyFn): AnyFn {
    // `beforeAll(fn, 2000)`: the hook's own timeout is its budget, as the test's is.
    const own = ownTimeoutOf(hook)
    const timeout: Budget | undefined = own !== undefined ? { ms: own, source: "the hook's timeout" } : undefined
    const wrapped = function (this: unknown, ...args: unknown[]) {
      return guarded(() => hookSpec(kind, suite, args, timeout), () => (timeout ? callWithoutVitestTimer(hook, () => hook.apply(this, args)) : hook.apply(this, args)))
    }
    // Vitest keeps cleanup settings on the hook function itself (symbol keys).
    return ObjectAssign(wrapped, hook)
  }

  function hookSpec(kind: HookKind, suite: Suite, args: unknown[], own: Budget | undefined): BrowserGuardSpec {
    const fallback = own ?? { ms: defaultHookTimeout, source: 'hookTimeout' }
    const common = { grace: current().grace, root }
    const test = (args[0] as { task?: Task } | undefined)?.task
    if ((kind === 'beforeEach' || kind === 'afterEach') && test) {
      const gate = WeakMapPrototypeGet(signals, test)
      return { ...common, subject: `Hook "${kind}" of test "${name(test)}"`, budget: budgetOf(test, fallback), file: test.file.filepath, name: name(test), abort: gate ? (reason) => gate.abort(reason) : undefined }
    }
    const where = suite.filepath !== undefined ? 'of the file' : `of describe "${suite.name}"`
    return { ...common, subject: `Hook "${kind}" ${where}`, budget: budgetOf(suite, fallback), file: suite.file.filepath, name: `${kind} ${where}` }
  }
}

/**
 * The page's top window: the tester frames are same-origin with it, and it
 * is where the main process's binding and evaluations are (Runtime.evaluate
 * runs in the top frame). A tester opened on its own is its own top.
 */
const DEFAULT_SETTINGS: WorkerSettings = { killAfter: null, grace: DEFAULT_GRACE_MS, importKillAfter: null, leaks: 'report', runDeadline: null }

function topWindow(): Record<string, unknown> {
  try {
    const top = (globalThis as unknown as { top?: Record<string, unknown> | null }).top
    if (top) {
      void top[BROWSER_BINDING]
      return top
    }
  } catch {
    // Cross-origin top (an embedding page): this frame is as far as can be reached.
  }
  return globalThis as unknown as Record<string, unknown>
}

function forEachSuite(suite: Suite, visit: (suite: Suite) => void): void {
  visit(suite)
  for (const task of suite.tasks) if (task.type === 'suite') forEachSuite(task as Suite, visit)
}

/**
 * Timers a test left pending (leaks.ts), checked after its afterEach hooks,
 * into the test's meta as in Node (the reporter reads them from there);
 * `leaks: 'fail'` fails the test.
 */
function installLeakChecks(runner: PageRunner, timers: PageTimers, pluginLeaks: () => LeakMode, map: (stacks: string[]) => Promise<MappedStack[]>): void {
  const before = runner.onBeforeRunTask?.bind(runner)
  runner.onBeforeRunTask = async (test) => {
    await before?.(test)
    if (pluginLeaks() !== 'off') timers.testStarted(test.id)
  }
  const after = runner.onAfterRunTask?.bind(runner)
  runner.onAfterRunTask = async (test) => {
    await after?.(test)
    // Off in the plugin options: no timer is watched, whatever a test's meta says.
    const pluginMode = pluginLeaks()
    if (pluginMode === 'off') return
    timers.testEnded(test.id)
    const own = test.meta.leaks
    const mode = own === undefined ? pluginMode : checkLeakMode('meta.leaks', own, `meta of test "${test.fullTestName || test.name}" (${test.file.name})`)
    const leaked = timers.leaksOf(test.id)
    if (mode === 'off' || leaked.length === 0) return
    const mapped = await PromisePrototypeThen(map(ArrayPrototypeMap(leaked, (timer) => timer.stack)), undefined, () => ArrayPrototypeMap(leaked, () => ({ location: null, stack: '' })))
    const entries = ArrayPrototypeMap(leaked, (timer, i) => ({ type: timer.type, location: mapped[i]?.location ?? null, stack: `${timer.type} created at\n${mapped[i]?.stack ?? ''}`, hint: TIMER_HINTS[timer.type], cleanup: TIMER_CLEANUP, ...(mode === 'fail' ? { failed: true } : {}) }))
    test.meta[LEAKS_META_KEY] = entries
    if (mode === 'fail' && test.result) test.result = { ...test.result, state: 'fail', errors: [...(test.result.errors ?? []), leakError(entries, runner.config.root)] }
  }
}
