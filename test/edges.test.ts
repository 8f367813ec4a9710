import { beforeAll, describe, expect, test } from 'vitest'
import { hangOf, outcomeOf, runFixture, type FixtureRun } from './support/run-fixture.js'

describe('fixtures/edges', () => {
  let run: FixtureRun
  beforeAll(async () => {
    run = await runFixture('edges')
  })

  test('fake timers (every kind, performance and Date included) do not delay the watchdog', () => {
    expect(hangOf(run, 'fake-timers.test.ts', 'fakes every timer, then spins')).toMatchObject({ stage: 'interrupt', killAfter: 400, location: { line: 9 } })
    expect(hangOf(run, 'fake-timers.test.ts', 'fakes every timer, then waits forever')).toMatchObject({ stage: 'abort', killAfter: 400 })
    expect(outcomeOf(run, 'fake-timers.test.ts > runs next with real timers').status).toBe('passed')
  })

  test('retry: the hung attempt is reported, the passing retry makes the test pass', () => {
    expect(outcomeOf(run, 'retry.test.ts > hangs on the first attempt, passes on the retry').status).toBe('passed')
    expect(hangOf(run, 'retry.test.ts', 'hangs on the first attempt, passes on the retry')).toMatchObject({ stage: 'interrupt', location: { line: 7 } })
  })

  test('repeats: each run gets its own budget', () => {
    expect(outcomeOf(run, 'retry.test.ts > each repeat gets its own budget').status).toBe('passed')
  })

  test('test.concurrent: siblings of a test waiting forever pass and are not blamed', () => {
    expect(hangOf(run, 'concurrent.test.ts', 'a concurrent group with one hung test > waits forever')).toMatchObject({ stage: 'abort', location: null })
    expect(outcomeOf(run, 'concurrent.test.ts > a concurrent group with one hung test > sibling one passes').status).toBe('passed')
    expect(outcomeOf(run, 'concurrent.test.ts > a concurrent group with one hung test > sibling two passes').status).toBe('passed')
  })

  test('test.concurrent: a busy loop is stopped and blamed on the test whose code spins, at its line', () => {
    expect(hangOf(run, 'concurrent.test.ts', 'a concurrent group with a busy loop > spins')).toMatchObject({ stage: 'interrupt', location: { line: 23 } })
    expect(hangOf(run, 'concurrent.test.ts', 'an innocent test that started first, next to a busy loop > spins after a moment')).toMatchObject({ stage: 'interrupt', location: { line: 34 } })
    expect(outcomeOf(run, 'concurrent.test.ts > a concurrent group with a busy loop > sibling passes before the loop starts').status).toBe('passed')
    // It held the helper's slot when the loop began: the stop was handed to the looping sibling.
    expect(outcomeOf(run, 'concurrent.test.ts > an innocent test that started first, next to a busy loop > passes: its timer is all it waits for').status).toBe('passed')
    const blamed = run.report?.hangs.filter((h) => h.file === 'concurrent.test.ts').map((h) => h.test).sort()
    expect(blamed).toEqual([
      'a concurrent group with a busy loop > spins',
      'a concurrent group with one hung test > waits forever',
      'an innocent test that started first, next to a busy loop > spins after a moment',
    ])
  })
})

describe('debuggers: the watchdog stands down', () => {
  test('without a debugger, the slow test is interrupted (so the next check means something)', async () => {
    const run = await runFixture('debugger')
    expect(hangOf(run, 'stepping.test.ts', 'takes longer than its budget, as a test being stepped through does').stage).toBe('interrupt')
  })

  test('under --inspect=0 nothing is interrupted, and the watchdog says so once', async () => {
    const run = await runFixture('debugger', { args: ['--inspect=0', '--no-file-parallelism'] })
    expect(outcomeOf(run, 'stepping.test.ts > takes longer than its budget, as a test being stepped through does').status).toBe('passed')
    expect(run.report).toMatchObject({ hangs: [], leaks: [] })
    expect(run.output.match(/vitest-watchdog: a debugger is enabled \(--inspect \/ --inspect-brk\); standing down/g)).toHaveLength(1)
  })
})
