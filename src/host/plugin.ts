import { resolve } from 'node:path'
import type { PoolOptions, TestProject, Vite, Vitest } from 'vitest/node'
import { WatchdogConfigError, WatchdogMisplacedPluginError } from '../shared/errors.js'
import { checkDuration, checkLeakMode, PROVIDE_KEY, resolveOptions, type WatchdogOptions, type WorkerSettings } from '../shared/options.js'
import { oneLine } from '../shared/one-line.js'
import { checkProjectsFile, isWatchdogCode, ownDir, runnerFile } from '../shared/own-files.js'
import { isWatchdogPool, POOL_NAMES, type Kind } from '../shared/pools.js'
import { checkEveryProjectGuarded, guardInlineProjects } from './projects.js'
import { checkReportPath } from './report/report-file.js'
import { reporterOf } from './report/reporter.js'
import { BrowserLadder } from './browser/ladder.js'
import { isBrowserProject, setUpBrowserProject } from './browser/project.js'
import { PLUGIN_NAME, withPageCode } from './browser/tester-html.js'

/**
 * The watchdog's own build, loaded by Node in each worker, never transformed
 * by Vite: installed under node_modules it is external anyway; linked or
 * resolved from elsewhere (a monorepo, this repository's own tests) Vite
 * would otherwise transform and evaluate it through its module runner in
 * every worker.
 */
const ownDist = new RegExp(`^${ownDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`)

/** Vitest instances told already that a debugger makes the watchdog stand down. */
const standingDown = new WeakSet<Vitest>()

/** Warnings about the config said already: a config hook runs again for each server built from the same config. */
const saidOnce = new Set<string>()
/** Projects told already that they have no budget (testTimeout 0, no killAfter). */
const saidNoBudget = new WeakSet<TestProject>()

/** Where a watchdog() plugin keeps the options it was given, for a second watchdog() in the same config to compare. */
const OPTIONS_KEY = 'vitest-watchdog:options'

interface TagLike {
  name?: unknown
  meta?: Record<string, unknown>
}

/**
 * `plugins: [watchdog()]`: every test of the project runs under the watchdog's
 * runner, which stops it at its budget (abort, then interrupt), and a reporter
 * in the main process writes what was stopped.
 */
export function watchdog(options?: WatchdogOptions): Vite.Plugin {
  const resolved = resolveOptions(options)
  // runDeadline: set for each run at its start (host/report/deadline.ts), so a watch-mode rerun has its own.
  const settings: WorkerSettings = { killAfter: resolved.killAfter ?? null, grace: resolved.grace, importKillAfter: resolved.importKillAfter ?? null, leaks: resolved.leaks ?? 'report', runDeadline: null }
  let respawning: typeof import('./respawning-worker.js') | undefined
  const browserLadder = new BrowserLadder((project, file, test, stop) => reporterOf(project.vitest).addHostStop(project, file, test, stop))
  const saidBrowser = new Set<string>()
  // The user's own includeTaskLocation: browser projects have it turned on (browser/guard.ts culpritOf), and the output shows it only if asked.
  let userTaskLocation: unknown

  const plugin = {
    name: PLUGIN_NAME,
    api: { [OPTIONS_KEY]: options ?? {} },
    async config(config: { plugins?: unknown; test?: unknown }) {
      const test = (config as { test?: { runner?: unknown; pool?: unknown; tags?: TagLike[]; projects?: unknown; includeTaskLocation?: unknown; plugins?: unknown } }).test ?? {}
      userTaskLocation = test.includeTaskLocation
      checkPlacement(test.plugins, test.projects)
      sayIfListedTwice(config.plugins, plugin)
      if (test.runner !== undefined && test.runner !== runnerFile) {
        throw new WatchdogConfigError(`test.runner is already set to ${JSON.stringify(test.runner)}. The watchdog installs its own runner; remove test.runner or the watchdog() plugin.`)
      }
      for (const tag of test.tags ?? []) {
        if (tag?.meta && tag.meta.killAfter !== undefined) {
          checkDuration('meta.killAfter', tag.meta.killAfter, `tag "${String(tag.name)}" of the vitest config`)
        }
        if (tag?.meta && tag.meta.leaks !== undefined) {
          checkLeakMode('meta.leaks', tag.meta.leaks, `tag "${String(tag.name)}" of the vitest config`)
        }
      }
      // Inline projects that do not extend this config would not get this plugin: they get their own.
      guardInlineProjects(test.projects, () => watchdog(options))
      // Projects from their own config files may not use watchdog() at all: checked before any test runs.
      const globalSetup = Array.isArray(test.projects) ? { globalSetup: [checkProjectsFile] } : {}
      // Each of Vitest's pools (forks by default, threads, vmForks, vmThreads)
      // becomes a respawning one: the same workers, plus the kill stage and
      // resuming a file after its worker died. A custom pool is kept as it is.
      // Loaded now, for configureVitest: test files import this module for killAfter(),
      // and the pool worker pulls in vitest/node, which has no business in a test worker.
      respawning = await import('./respawning-worker.js')
      return { test: { ...globalSetup, runner: runnerFile, provide: { [PROVIDE_KEY]: settings }, server: { deps: { external: [ownDist] } }, browser: { commands: browserLadder.commands() } } } as object
    },
    // The tester frames' HTML, on the browser server: the page code goes in here (browser/tester-html.ts).
    transformIndexHtml(html: string, ctx: { filename?: string; server?: { config?: object } }) {
      return withPageCode(html, ctx)
    },
    configureVitest({ vitest, project }: { vitest: Vitest; project: TestProject }) {
      // `vitest bench`: a benchmark has no budget to guard, and Vitest picks its
      // benchmark runner only when test.runner is unset; the plugin steps aside.
      if (isBenchmarkRun(vitest)) {
        stepAside(project)
        return
      }
      // Each of Vitest's pools (forks by default, threads, vmForks, vmThreads)
      // becomes a respawning one: the same workers, plus the kill stage and
      // resuming a file after its worker died. Done on the resolved config, so
      // a pool chosen on the command line is wrapped too; a custom pool is kept.
      const config = project.config as unknown as { pool: string; poolRunner?: unknown }
      // A browser project runs in pages, not in the pools: the page gets its own part of the ladder.
      const browser = isBrowserProject(project)
      // Under a debugger (--inspect, --inspect-brk) the page is left as it is, as the Node workers are.
      if (browser) {
        if (!(vitest.config.inspector?.enabled || project.config.inspector?.enabled)) {
          // Each test's `test(` line, which tells concurrent tests apart when one of them is stuck (browser/guard.ts culpritOf).
          ;(project.config as { includeTaskLocation?: boolean }).includeTaskLocation = true
          setUpBrowserProject(vitest, project, saidBrowser)
          browserLadder.serve(project)
        }
      } else if (respawning && config.pool in POOL_NAMES) {
        const kind = config.pool as Kind
        const { RespawningWorker } = respawning
        config.pool = POOL_NAMES[kind]
        config.poolRunner = { name: config.pool, createPoolWorker: (options: PoolOptions) => new RespawningWorker(options, kind) }
      }
      const pool = String(project.config.pool)
      if (!browser && !isWatchdogPool(pool)) {
        vitest.logger.warn(`vitest-watchdog: pool "${oneLine(pool)}" of project "${oneLine(project.name || 'default')}" is not one of Vitest's own: its tests get stage abort only (no interrupt, no kill, no resume after a crash).`)
      }
      if (!standingDown.has(vitest) && (vitest.config.inspector?.enabled || project.config.inspector?.enabled)) {
        standingDown.add(vitest)
        // Stepping through a test must never be cut short; the runner in each worker sees the same setting.
        vitest.logger.error('vitest-watchdog: a debugger is enabled (--inspect / --inspect-brk); standing down: no test will be aborted, interrupted or killed in this run.')
      }
      if (resolved.killAfter === undefined && !standingDown.has(vitest)) sayIfNoBudget(vitest, project)
      // A report that could never be written, or whose folder Node would spin making (/proc), fails the run now.
      if (resolved.outputFile) checkReportPath(resolve(project.config.root, resolved.outputFile), resolved.outputFile, 'watchdog() plugin options')
      adoptProject(project)
      hideOwnFrames(vitest.config)
      hideOwnFrames(project.config)
      checkEveryProjectGuarded(vitest, runnerFile)
      reporterOf(vitest).addProject({ project, settings, runTimeout: resolved.runTimeout, outputFile: resolved.outputFile, leaks: resolved.leaks ?? 'report', taskLocation: userTaskLocation === true })
    },
  }
  return plugin as Vite.Plugin
}

function isWatchdogPlugin(value: unknown): value is { name: string; api?: Record<string, unknown> } {
  return (value as { name?: unknown } | null)?.name === PLUGIN_NAME
}

function watchdogsIn(plugins: unknown): Array<{ api?: Record<string, unknown> }> {
  return Array.isArray(plugins) ? plugins.flat(Infinity).filter(isWatchdogPlugin) : []
}

/**
 * Vitest never calls a plugin in `test.plugins` (of the config, or of an
 * inline project): a watchdog() there guards nothing, and its hangs would
 * hang the run. Seen from any watchdog() that does run (one with no other
 * watchdog() in the right place has no hook that runs at all).
 */
function checkPlacement(testPlugins: unknown, projects: unknown): void {
  if (watchdogsIn(testPlugins).length > 0) throw new WatchdogMisplacedPluginError('test.plugins')
  if (!Array.isArray(projects)) return
  for (const [index, project] of projects.entries()) {
    const inline = project as { test?: { name?: unknown; plugins?: unknown } } | null
    if (typeof inline !== 'object' || inline === null || watchdogsIn(inline.test?.plugins).length === 0) continue
    const name = typeof inline.test?.name === 'string' ? `"${inline.test.name}"` : `#${index + 1}`
    throw new WatchdogMisplacedPluginError(`test.plugins of the inline project ${name} in test.projects`)
  }
}

/**
 * Two watchdog() in one config: each sets the same runner, and the options of
 * the last one listed apply (Vite merges config hooks' results in order).
 * With different options, that is said once, by the last one.
 */
function sayIfListedTwice(plugins: unknown, self: object): void {
  const listed = watchdogsIn(plugins)
  if (listed.length < 2 || listed[listed.length - 1] !== self) return
  const given = listed.map((plugin) => JSON.stringify(plugin.api?.[OPTIONS_KEY] ?? {}))
  if (new Set(given).size < 2) return
  const message = `vitest-watchdog: watchdog() is listed ${listed.length} times in plugins, with different options: ${given.join(', ')}. Only the last one's applies (${given[given.length - 1]}); keep one watchdog() with the options you want.`
  if (saidOnce.has(message)) return
  saidOnce.add(message)
  console.warn(message)
}

/**
 * The budget of a test without meta.killAfter is the plugin's killAfter, else
 * its testTimeout; testTimeout 0 (or Infinity, or negative) leaves it none, and
 * a spinning test would then hang the run with no word.
 */
function sayIfNoBudget(vitest: Vitest, project: TestProject): void {
  const timeout = project.config.testTimeout
  if ((Number.isFinite(timeout) && timeout > 0) || saidNoBudget.has(project)) return
  saidNoBudget.add(project)
  const which = vitest.projects.length > 1 ? ` in project "${project.name || 'default'}"` : ''
  vitest.logger.warn(`vitest-watchdog: testTimeout is ${timeout}${which}, so tests have no budget and a hung test is never stopped. Set watchdog({ killAfter: <ms> }) or a testTimeout above 0.`)
}

/** Whether this Vitest runs benchmarks (`vitest bench`), not tests. */
export function isBenchmarkRun(vitest: Vitest): boolean {
  return (vitest.config as { mode?: string }).mode === 'benchmark'
}

/** Undoes what config() set that Vitest's benchmark runner would see: the runner. */
function stepAside(project: TestProject): void {
  const config = project.config as unknown as { runner?: string }
  if (config.runner === runnerFile) config.runner = undefined
}

type FrameFilter = (error: never, frame: { file: string }) => boolean | void
/** The frame filters hideOwnFrames made, so that a config seen twice is wrapped once. */
const ownFrameFilters = new WeakSet<FrameFilter>()

/**
 * The runner's wrappers are on every failing test's stack, and plain Vitest
 * prints no such frames: Vitest's onStackTrace (applied in the main process
 * to Node and page errors alike) drops them, then asks the user's own.
 */
function hideOwnFrames(resolved: object): void {
  const config = resolved as { onStackTrace?: FrameFilter }
  const user = config.onStackTrace
  if (user && ownFrameFilters.has(user)) return
  const filter: FrameFilter = (error, frame) => (isWatchdogCode(frame.file) ? false : user?.(error, frame))
  ownFrameFilters.add(filter)
  config.onStackTrace = filter
}

/**
 * Vitest 5 gives an inline project with `extends: true` the root config's
 * plugins, so this configureVitest runs for it, but not their `config` hook:
 * its resolved config lacks what config() sets. It gets the same here (the
 * settings reach its workers through provide, at each run's start).
 */
function adoptProject(project: TestProject): void {
  const config = project.config as unknown as { runner?: string; browser?: { enabled?: boolean }; server?: { deps?: { external?: Array<string | RegExp> } } }
  if (config.runner !== undefined || config.browser?.enabled) return
  config.runner = runnerFile
  const deps = config.server?.deps
  if (deps) deps.external = [...(deps.external ?? []), ownDist]
}
