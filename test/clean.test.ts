import { expect, test } from 'vitest'
import { runFixture } from './support/run-fixture.js'

test('a clean suite passes untouched and nothing is reported', async () => {
  const run = await runFixture('clean')
  expect(run.code).toBe(0)
  expect([...run.tests.values()].map((t) => t.status)).toEqual(Array(6).fill('passed'))
  expect(run.report).toMatchObject({ hangs: [], leaks: [], running: [] })
  expect(run.report?.finished).toHaveLength(6)
  expect(run.output).not.toContain('vitest-watchdog')
})
