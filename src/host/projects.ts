import { relative } from 'node:path'
import type { Vitest } from 'vitest/node'
import { WatchdogUnguardedProjectError } from '../shared/errors.js'

const PLUGIN_NAME = 'vitest-watchdog'

/** Vitest instances whose projects were checked already (configureVitest runs once per project). */
const checked = new WeakSet<Vitest>()

/**
 * Vitest gives a project declared inline in `test.projects` the root
 * config's plugins only with `extends: true`: without it, a watchdog() in the
 * root config would guard none of them, and a hung test would hang the run
 * silently. Each such project gets a watchdog() of its own, with the root's
 * options, unless it declares one itself. (Changed in place: Vite lets a
 * `config` hook mutate the config, and a returned `projects` array would be
 * concatenated to the user's.)
 */
export function guardInlineProjects(projects: unknown, plugin: () => unknown): void {
  if (!Array.isArray(projects)) return
  for (const [index, entry] of projects.entries()) {
    if (typeof entry !== 'object' || entry === null || typeof (entry as PromiseLike<unknown>).then === 'function') continue
    const project = entry as { extends?: unknown; plugins?: unknown[] }
    if (project.extends === true || hasWatchdog(project.plugins)) continue
    projects[index] = { ...project, plugins: [...(project.plugins ?? []), plugin()] }
  }
}

function hasWatchdog(plugins: unknown): boolean {
  if (!Array.isArray(plugins)) return false
  return plugins.flat(Infinity).some((plugin) => (plugin as { name?: unknown } | null)?.name === PLUGIN_NAME)
}

/**
 * Every project of the run must run under the watchdog's runner: a project
 * that does not (its own config file without watchdog(), say) would run
 * unguarded beside guarded ones, and its hangs would hang the run. The run
 * fails at start instead, naming the project and what to change. Browser
 * projects are left out: their tests do not run in Vitest's Node workers.
 */
export function checkEveryProjectGuarded(vitest: Vitest, runnerPath: string, why = 'while other projects of this run do'): void {
  // `vitest bench` runs no test under the watchdog (plugin.ts steps aside): nothing to check.
  if (checked.has(vitest) || (vitest.config as { mode?: string }).mode === 'benchmark') return
  checked.add(vitest)
  for (const project of vitest.projects) {
    if (project.config.browser?.enabled) continue
    // Under the runner already, or about to be: a project given the root's
    // watchdog() by `extends: true` gets it in its own configureVitest on
    // Vitest 5 (plugin.ts, adoptProject), which may come after this one.
    if (project.config.runner === runnerPath || hasWatchdog(project.vite.config.plugins)) continue
    // Found by path at config time (plugin.ts) and here: the same build, so the same file.
    const configFile = project.vite.config.configFile
    const from = configFile ? `its config file ${relative(vitest.config.root, configFile) || configFile}` : 'its inline config'
    throw new WatchdogUnguardedProjectError(
      project.name || '(unnamed)',
      `${from} does not use the watchdog() plugin (${why})${project.config.runner ? ` (it sets test.runner to ${JSON.stringify(project.config.runner)})` : ''}. Add watchdog() to its plugins, or declare it inline in test.projects (with or without extends: true): inline projects get the root config's watchdog().`,
    )
  }
}
