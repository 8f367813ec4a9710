import { TestRunner } from 'vitest'
import { WatchdogUnsupportedVitestError } from '../shared/errors.js'

/**
 * The parts of Vitest the worker side relies on beyond its documented API.
 * Present in Vitest 4.1 and 5; checked once when the runner loads, so a
 * future Vitest that drops one fails the run with a message that says which,
 * instead of hanging or silently losing the ladder.
 */
export function checkRunnerInternals(): void {
  const statics = TestRunner as unknown as Record<string, unknown>
  for (const name of ['getTestFn', 'getSuiteHooks']) {
    if (typeof statics[name] !== 'function') throw new WatchdogUnsupportedVitestError(`TestRunner.${name} is missing`)
  }
}

interface EvaluatedModulesLike {
  getModuleSourceMapById(id: string): { map: unknown } | null
}

let warned = false

/** The module runner's source maps (Vitest 4.1 and 5), or undefined with a one-time warning. */
export function evaluatedModules(): EvaluatedModulesLike | undefined {
  const state = (globalThis as { __vitest_worker__?: { evaluatedModules?: Partial<EvaluatedModulesLike> } }).__vitest_worker__
  const modules = state?.evaluatedModules
  if (modules && typeof modules.getModuleSourceMapById === 'function') return modules as EvaluatedModulesLike
  if (!warned) {
    warned = true
    process.stderr.write('vitest-watchdog: this Vitest does not expose its module source maps where expected (__vitest_worker__.evaluatedModules); hang locations are reported in generated code.\n')
  }
  return undefined
}
