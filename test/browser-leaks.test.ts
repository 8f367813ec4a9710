import { beforeAll, expect, test } from 'vitest'
import { expectStatus, outcomeOf, runFixture, type FixtureRun } from './support/run-fixture.js'

// fixtures/browser-leaks: timers a test leaves pending in the page are
// reported with the line that created them, as in Node.
let run: FixtureRun

beforeAll(async () => {
  run = await runFixture('browser-leaks')
})

const leaksOf = (name: string) => (run.report?.leaks ?? []).filter((leak) => leak.test === name)

test('a timeout and an interval left pending are leaks, at their creation line in the original source', () => {
  expect(leaksOf('leaves a timeout pending')).toMatchObject([{ file: 'timers.test.ts', type: 'Timeout', location: { file: 'timers.test.ts', line: 5, column: 3 } }])
  expect(leaksOf('leaves an interval running')).toMatchObject([{ file: 'timers.test.ts', type: 'Interval', location: { file: 'timers.test.ts', line: 9 } }])
  expect(leaksOf('leaves a timeout pending')[0]!.stack.split('\n')[1]).toContain('/fixtures/browser-leaks/timers.test.ts:5:')
  expectStatus(run, 'timers.test.ts > leaves a timeout pending', 'passed')
})

test('cleared and fired timers are not leaks', () => {
  expect(leaksOf('clears what it starts')).toEqual([])
  expect(leaksOf('waits for its timeout to fire')).toEqual([])
  expect(run.report?.leaks).toHaveLength(3)
})

test("meta leaks: 'fail' fails the test with a LeakError naming the line", () => {
  expect(leaksOf('fails on its leak')).toMatchObject([{ type: 'Timeout', location: { file: 'timers.test.ts', line: 25 }, failed: true }])
  const outcome = outcomeOf(run, 'timers.test.ts > fails on its leak')
  expect(outcome.status).toBe('failed')
  expect(outcome.failureMessages[0]).toMatch(/^LeakError: Test leaked 1 resource \(vitest-watchdog, leaks: 'fail'\):\n {2}- Timeout created at timers\.test\.ts:25:\d+: a setTimeout that had not fired/)
})

test('killAfter() imported from the package works in a browser test file (the browser entry, without the plugin)', () => {
  expectStatus(run, 'timers.test.ts > killAfter() from the package works in a browser test file', 'passed')
})

test('under --inspect the page is left as it is: no guard, no leak check, and the watchdog says so once', async () => {
  // Vitest's browser mode takes no port from --inspect=0: Chromium listens on 9229 for the run.
  const inspected = await runFixture('browser-leaks', { args: ['--inspect=0', '--no-file-parallelism'] })
  expect(outcomeOf(inspected, 'timers.test.ts > fails on its leak').status).toBe('passed')
  expect(inspected.report).toMatchObject({ hangs: [], leaks: [] })
  expect(inspected.output.match(/vitest-watchdog: a debugger is enabled \(--inspect \/ --inspect-brk\); standing down/g)).toHaveLength(1)
})
