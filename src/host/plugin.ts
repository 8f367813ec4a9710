import type { PoolOptions, TestProject, Vite, Vitest } from 'vitest/node'
import { WatchdogConfigError } from '../shared/errors.js'
import { checkDuration, checkLeakMode, PROVIDE_KEY, resolveOptions, type WatchdogOptions, type WorkerSettings } from '../shared/options.js'
import { checkProjectsFile, ownDir, runnerFile } from '../shared/own-files.js'
import { isWatchdogPool, POOL_NAMES, type Kind } from '../shared/pools.js'
import { checkEveryProjectGuarded, guardInlineProjects } from './projects.js'
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

  return {
    name: PLUGIN_NAME,
    async config(config) {
      const test = (config as { test?: { runner?: unknown; pool?: unknown; tags?: TagLike[]; projects?: unknown } }).test ?? {}
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
      // includeTaskLocation: each test's `test(` line, which tells concurrent
      // tests apart when one of them is stuck (see worker/guard.ts culpritOf).
      return { test: { ...globalSetup, runner: runnerFile, provide: { [PROVIDE_KEY]: settings }, includeTaskLocation: true, server: { deps: { external: [ownDist] } }, browser: { commands: browserLadder.commands() } } } as object
    },
    // The tester frames' HTML, on the browser server: the page code goes in here (browser/tester-html.ts).
    transformIndexHtml(html: string, ctx: { filename?: string; server?: { config?: object } }) {
      return withPageCode(html, ctx)
    },
    configureVitest({ vitest, project }: { vitest: Vitest; project: TestProject }) {
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
        vitest.logger.warn(`vitest-watchdog: pool "${pool}" of project "${project.name || 'default'}" is not one of Vitest's own: its tests get stage abort only (no interrupt, no kill, no resume after a crash).`)
      }
      if (!standingDown.has(vitest) && (vitest.config.inspector?.enabled || project.config.inspector?.enabled)) {
        standingDown.add(vitest)
        // Stepping through a test must never be cut short; the runner in each worker sees the same setting.
        vitest.logger.error('vitest-watchdog: a debugger is enabled (--inspect / --inspect-brk); standing down: no test will be aborted, interrupted or killed in this run.')
      }
      adoptProject(project)
      checkEveryProjectGuarded(vitest, runnerFile)
      reporterOf(vitest).addProject({ project, settings, runTimeout: resolved.runTimeout, outputFile: resolved.outputFile, leaks: resolved.leaks ?? 'report' })
    },
  } as Vite.Plugin
}

/**
 * Vitest 5 gives an inline project with `extends: true` the root config's
 * plugins, so this configureVitest runs for it, but not their `config` hook:
 * its resolved config lacks what config() sets. It gets the same here (the
 * settings reach its workers through provide, at each run's start).
 */
function adoptProject(project: TestProject): void {
  const config = project.config as unknown as { runner?: string; includeTaskLocation?: boolean; browser?: { enabled?: boolean }; server?: { deps?: { external?: Array<string | RegExp> } } }
  if (config.runner !== undefined || config.browser?.enabled) return
  config.runner = runnerFile
  config.includeTaskLocation = true
  const deps = config.server?.deps
  if (deps) deps.external = [...(deps.external ?? []), ownDist]
}
