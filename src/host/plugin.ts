import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { PoolOptions, TestProject, Vite, Vitest } from 'vitest/node'
import { WatchdogConfigError } from '../shared/errors.js'
import { checkDuration, checkLeakMode, PROVIDE_KEY, resolveOptions, type WatchdogOptions, type WorkerSettings } from '../shared/options.js'
import { HangReporter } from './hang-reporter.js'

const runnerPath = fileURLToPath(new URL('./worker/runner.js', import.meta.url))

/** Pools that the plugin replaces with its respawning workers: the whole ladder, kill and resume included. */
const FULL_LADDER_POOLS = new Set(['watchdog-forks', 'watchdog-threads'])

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
  // Where a helper writes before it kills its own worker; one per plugin instance, removed at the end of the run.
  const killLogFile = join(tmpdir(), `vitest-watchdog-${process.pid}-${randomUUID()}.jsonl`)
  const reporters = new WeakMap<Vitest, HangReporter>()
  let runDeadline: number | null = null

  return {
    name: 'vitest-watchdog',
    async config(config) {
      const test = (config as { test?: { runner?: unknown; pool?: unknown; tags?: TagLike[] } }).test ?? {}
      if (test.runner !== undefined) {
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
      // The run's own clock starts when its config loads.
      runDeadline = resolved.runTimeout ? Date.now() + resolved.runTimeout : null
      const settings: WorkerSettings = { killAfter: resolved.killAfter ?? null, grace: resolved.grace, importKillAfter: resolved.importKillAfter ?? null, leaks: resolved.leaks ?? 'report', runDeadline, killLogFile }
      // Vitest's forks (the default) and threads pools become respawning ones:
      // the same workers, plus the kill stage and resuming a file after its
      // worker died. vmForks and vmThreads are kept as they are.
      // Loaded here, not at the top: test files import this module for killAfter(), and
      // the pool worker pulls in vitest/node, which has no business in a test worker.
      const { POOL_NAME, RespawningWorker, THREADS_POOL_NAME } = await import('./respawning-worker.js')
      const pool = test.pool === undefined || test.pool === 'forks'
        ? { pool: { name: POOL_NAME, createPoolWorker: (options: PoolOptions) => new RespawningWorker(options, 'forks') } }
        : test.pool === 'threads'
          ? { pool: { name: THREADS_POOL_NAME, createPoolWorker: (options: PoolOptions) => new RespawningWorker(options, 'threads') } }
          : {}
      return { test: { runner: runnerPath, provide: { [PROVIDE_KEY]: settings }, ...pool } } as object
    },
    configureVitest({ vitest, project }: { vitest: Vitest; project: TestProject }) {
      const pool = String(project.config.pool)
      if (!FULL_LADDER_POOLS.has(pool)) {
        vitest.logger.warn(`vitest-watchdog: pool "${pool}" of project "${project.name || 'default'}" gets the abort and interrupt stages, but no kill stage and no resume after a crash: use "forks" (Vitest's default) or "threads" for the whole ladder.`)
      }
      if (!reporters.has(vitest) && (vitest.config.inspector?.enabled || project.config.inspector?.enabled)) {
        // Stepping through a test must never be cut short; the runner in each worker sees the same setting.
        vitest.logger.log('vitest-watchdog: a debugger is enabled (--inspect / --inspect-brk); standing down: no test will be aborted, interrupted or killed in this run.')
      }
      if (!reporters.has(vitest)) {
        const reporter = new HangReporter({ outputFile: resolved.outputFile, killLogFile, leaks: resolved.leaks ?? 'report', grace: resolved.grace, runDeadline })
        reporters.set(vitest, reporter)
        ;(vitest.config.reporters as unknown[]).push(reporter)
      }
    },
  } as Vite.Plugin
}
