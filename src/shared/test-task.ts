import type { RunnerTestCase, RunnerTestSuite } from 'vitest'

/**
 * What the watchdog reads of Vitest's test tasks beyond the fields their
 * types declare, in one place for each.
 */

/** "describe > test", as Vitest's reporters name a test (`fullTestName` is set at collection; older tasks lack it). */
export function fullTestName(task: RunnerTestCase | RunnerTestSuite): string {
  return (task as { fullTestName?: string }).fullTestName || task.name
}

/** How many retries a test has: `retry` is a number or `{ count }`. */
export function retryCount(test: RunnerTestCase): number {
  const retry = test.retry as number | { count?: number } | undefined
  return typeof retry === 'number' ? retry : (retry?.count ?? 0)
}
