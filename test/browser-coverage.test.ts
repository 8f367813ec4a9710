import { expect, test } from 'vitest'
import { expectStatus, hangOf, runFixture } from './support/run-fixture.js'

// Browser mode with @vitest/coverage-v8, which collects a page's coverage
// through V8's block coverage. There a CPU profile's sampled lines are off,
// so the stuck location is the first line of the function that spun (README,
// "Browser mode"); the ladder and the rest of the file are as without it.
test('under coverage-v8 a spinning browser test is interrupted at its function, the next test passes, and coverage is still written', async () => {
  const run = await runFixture('browser-interrupt', {
    args: ['sync-loop.test.ts', '--coverage.enabled', '--coverage.provider=v8', '--coverage.reporter=json-summary', '--coverage.reportOnFailure', '--coverage.reportsDirectory={dir}/coverage'],
    keep: ['coverage/coverage-summary.json'],
  })
  expect(run.code).toBe(1)
  expect(hangOf(run, 'sync-loop.test.ts', 'spins forever')).toMatchObject({ stage: 'interrupt', reason: 'interrupted', location: { file: 'sync-loop.test.ts', line: 7 } })
  expectStatus(run, 'sync-loop.test.ts > runs next in the same page', 'passed')
  // Coverage leaves test files out: what is checked is that the stop did not break its collection.
  expect(JSON.parse(run.kept['coverage/coverage-summary.json']!)).toHaveProperty('total')
  expect(run.output).not.toMatch(/Error.*coverage/i)
})
