import { describe, expect, test } from 'vitest'
import { expectStatus, hangOf, runFixture } from './support/run-fixture.js'

// --sequence.concurrent: a test that spins from its first line holds up the
// timers of every test beside it. Only the spinning one is to blame.
describe.each(['forks', 'threads'])('pool %s', (pool) => {
  test('only the spinning test fails; the others pass; the run ends', async () => {
    const run = await runFixture('concurrent', { args: [`--pool=${pool}`, 'first-line'] })
    expect(hangOf(run, 'first-line.test.ts', 'q2 spins from its first line')).toMatchObject({ stage: 'interrupt', reason: 'interrupted', location: { line: 11 } })
    expectStatus(run, 'first-line.test.ts > q1 waits a little', 'passed')
    expectStatus(run, 'first-line.test.ts > q3 waits longer', 'passed')
    expectStatus(run, 'first-line.test.ts > q4 is synchronous', 'passed')
    expect(run.report?.hangs).toHaveLength(1)
  })

  test('a test blocked in execSync: only it fails (its child is killed); the others go on in the same worker and pass', async () => {
    const run = await runFixture('concurrent', { args: [`--pool=${pool}`, 'blocked'] })
    expect(hangOf(run, 'blocked.test.ts', 'b2 blocks in execSync')).toMatchObject({ stage: 'kill', reason: 'child-killed' })
    expectStatus(run, 'blocked.test.ts > b1 waits a little', 'passed')
    expectStatus(run, 'blocked.test.ts > b3 waits longer', 'passed')
    expectStatus(run, 'blocked.test.ts > b4 is synchronous', 'passed')
    expect(run.report?.hangs).toHaveLength(1)
  })

  test('two tests spin one after the other: each is stopped at its own line, and the run ends', async () => {
    const run = await runFixture('concurrent', { args: [`--pool=${pool}`, 'two-spinners'] })
    expect(hangOf(run, 'two-spinners.test.ts', 's1 spins at once')).toMatchObject({ stage: 'interrupt', reason: 'interrupted', location: { line: 12 } })
    expect(hangOf(run, 'two-spinners.test.ts', 's2 spins after one turn of the event loop')).toMatchObject({ stage: 'interrupt', reason: 'interrupted', location: { line: 7 } })
    expect(run.report?.hangs).toHaveLength(2)
  })

  test('tests defined through test.extend, describe.concurrent and .each: the stop goes to the one whose code spins', async () => {
    const run = await runFixture('concurrent', { args: [`--pool=${pool}`, 'chains'] })
    expect(hangOf(run, 'chains.test.ts', 'chained > c2 spins after one await')).toMatchObject({ stage: 'interrupt', reason: 'interrupted', location: { line: 17 } })
    expectStatus(run, 'chains.test.ts > chained > c1 waits', 'passed')
    expectStatus(run, 'chains.test.ts > chained > c3 lets c1 finish', 'passed')
    expect(run.report?.hangs).toHaveLength(1)
  })
})
