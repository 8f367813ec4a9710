import type { RunnerTaskResult, RunnerTestCase } from 'vitest'
import type { Continuation } from '../shared/journal.js'
import { retryCount } from '../shared/test-task.js'
import { MapPrototypeDelete, MapPrototypeGet, MapPrototypeSet, MathMax } from '../shared/intrinsics.js'

/**
 * A resumed worker: a test whose worker died during an attempt goes on where
 * Vitest would have (the next retry of that repeat, or else the next repeat)
 * instead of starting its attempts over. Vitest's runner counts attempts
 * from 0 in each worker, so the fresh worker runs only what is left
 * (`retry` and `repeats` cut down) and this module turns its local counts
 * back into the test's own: in the journal, so a second death continues from
 * the right place, and in the result Vitest reports.
 */
export class Continuations {
  private readonly active = new Map<string, { from: Continuation; retry: unknown }>()

  /** Before the test runs: cut its attempts down to what is left. */
  begin(test: RunnerTestCase, from: Continuation | undefined): void {
    if (!from) return
    const original = test.retry as number | { count?: number } | undefined
    const left = MathMax(0, retryCount(test) - from.retry)
    ;(test as { retry?: unknown }).retry = typeof original === 'object' && original ? { ...original, count: left } : left
    ;(test as { repeats?: number }).repeats = MathMax(0, (test.repeats ?? 0) - from.repeat)
    MapPrototypeSet(this.active, test.id, { from, retry: original })
  }

  /**
   * After each attempt: later repeats get all their retries again. (Vitest
   * reads `retry` at the start of each repeat, so this does not change the
   * repeat under way.)
   */
  afterAttempt(test: RunnerTestCase): void {
    const active = MapPrototypeGet(this.active, test.id)
    if (active) (test as { retry?: unknown }).retry = active.retry
  }

  /** The attempt under way, counted as the test's own: for the journal. */
  attempt(test: RunnerTestCase, local: { retry: number; repeats: number }): { retry: number; repeat: number; retried: number } {
    const from = MapPrototypeGet(this.active, test.id)?.from
    const retried = test.result?.retryCount ?? 0
    if (!from) return { retry: local.retry, repeat: local.repeats, retried }
    return { retry: local.repeats === 0 ? from.retry + local.retry : local.retry, repeat: from.repeat + local.repeats, retried: from.retriesBefore + retried }
  }

  /** The test's result, with the attempts of the dead workers counted and their errors kept. */
  finish(test: RunnerTestCase): void {
    const active = MapPrototypeGet(this.active, test.id)
    if (!active || !test.result) return
    MapPrototypeDelete(this.active, test.id)
    const { from } = active
    ;(test as { retry?: unknown }).retry = active.retry
    const errors = [...(from.errors as NonNullable<RunnerTaskResult['errors']>), ...(test.result.errors ?? [])]
    test.result = {
      ...test.result,
      // An earlier repeat failed for good: so does the test, as in Vitest.
      ...(from.failed && test.result.state === 'pass' ? { state: 'fail' } : {}),
      retryCount: (test.result.retryCount ?? 0) + from.retriesBefore,
      repeatCount: (test.result.repeatCount ?? 0) + from.repeat,
      errors,
    }
  }
}
