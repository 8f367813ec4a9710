import { beforeAll, describe, expect, test } from 'vitest'
import { expectStatus, hangOf, outcomeOf, runFixture, type FixtureRun } from './support/run-fixture.js'

// A budget too large for a timer (Infinity, or a stage past 2^31-1 ms) is a
// stage that never comes: never a timer clamped to 1 ms, never a warning.
describe.each([['forks'], ['threads']])('budgets that do not fit a timer, under --pool=%s', (pool) => {
  let infinite: FixtureRun
  let finite: FixtureRun
  let hugeGrace: FixtureRun
  beforeAll(async () => {
    const args = [`--pool=${pool}`]
    ;[infinite, finite, hugeGrace] = await Promise.all([
      runFixture('tamper-budgets/infinite', { args }),
      runFixture('tamper-budgets/finite-kill-after', { args }),
      runFixture('tamper-budgets/huge-grace', { args }),
    ])
  })

  test('testTimeout, hookTimeout and a test timeout of Infinity: no deadline, as in plain Vitest', () => {
    for (const name of [
      'hooks under hookTimeout: Infinity > sees its beforeAll done',
      'awaits 50 ms under testTimeout: Infinity',
      'awaits 50 ms under its own timeout of Infinity',
      'aborts nothing: its signal is never aborted',
    ]) expectStatus(infinite, `no-deadline.test.ts > ${name}`, 'passed')
    expect(infinite.code).toBe(0)
    expect(infinite.report?.hangs).toEqual([])
    expect(infinite.output).not.toContain('TimeoutOverflowWarning')
  })

  test("an infinite Vitest timeout leaves the plugin's killAfter in charge: a spin is interrupted", () => {
    for (const name of ['spins forever', 'spins forever with its own timeout of Infinity']) {
      expect(hangOf(finite, 'spin.test.ts', name)).toMatchObject({ stage: 'interrupt', reason: 'interrupted', killAfter: 300, location: { file: 'spin.test.ts', line: name === 'spins forever' ? 4 : 8 } })
    }
    expectStatus(finite, 'spin.test.ts > runs next in the same worker', 'passed')
    expect(finite.output).not.toContain('TimeoutOverflowWarning')
  })

  test('grace 2^31-1: accepted; abort still comes at the budget, the stages past the largest timer never do', () => {
    expectStatus(hugeGrace, 'huge-grace.test.ts > awaits 50 ms', 'passed')
    expect(hangOf(hugeGrace, 'huge-grace.test.ts', 'rejects on abort at its budget')).toMatchObject({ stage: 'abort', reason: 'settled-after-abort', killAfter: 300 })
    expectStatus(hugeGrace, 'huge-grace.test.ts > runs after the aborted test', 'passed')
    expect(outcomeOf(hugeGrace, 'huge-grace.test.ts > rejects on abort at its budget').failureMessages[0]).toContain('Test timed out after 300ms (testTimeout). It settled after vitest-watchdog aborted its signal')
    expect(hugeGrace.output).not.toContain('TimeoutOverflowWarning')
    expect(hugeGrace.output).not.toContain('the run deadline (runTimeout) passed')
  })
})

test('in the page: Infinity is no deadline, and grace 2^31-1 leaves abort the only stage', async () => {
  const run = await runFixture('tamper-budgets/browser')
  for (const name of ['awaits 50 ms under testTimeout: Infinity', 'awaits 50 ms under its own timeout of Infinity', 'runs after the aborted test']) expectStatus(run, `page.test.ts > ${name}`, 'passed')
  expect(hangOf(run, 'page.test.ts', 'rejects on abort at its budget')).toMatchObject({ stage: 'abort', reason: 'settled-after-abort', killAfter: 300 })
  expect(run.report?.hangs).toHaveLength(1)
})
