import { describe, expect, test } from 'vitest'
import { expectStatus, hangOf, runFixture } from './support/run-fixture.js'

// --sequence.concurrent: a test that spins from its first line holds up the
// timers of every test beside it. Only the spinning one is to blame.
describe.each(['forks', 'threads'])('pool %s', (pool) => {
  test('only the spinning test fails; the others pass; the run ends', async () => {
    const run = await runFixture('concurrent', { args: [`--pool=${pool}`] })
    expect(hangOf(run, 'first-line.test.ts', 'q2 spins from its first line')).toMatchObject({ stage: 'interrupt', reason: 'interrupted', location: { line: 11 } })
    expectStatus(run, 'first-line.test.ts > q1 waits a little', 'passed')
    expectStatus(run, 'first-line.test.ts > q3 waits longer', 'passed')
    expectStatus(run, 'first-line.test.ts > q4 is synchronous', 'passed')
    expect(run.report?.hangs).toHaveLength(1)
  })
})
