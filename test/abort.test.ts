import { beforeAll, expect, test } from 'vitest'
import { hangOf, outcomeOf, runFixture, type FixtureRun } from './support/run-fixture.js'

let run: FixtureRun & { kept: Record<string, string> }

beforeAll(async () => {
  run = await runFixture('abort', { env: { WATCHDOG_MARKER_NAME: 'marker.txt' }, keep: ['marker.txt'] })
})

test('a test that rejects on abort fails at stage abort, after its cleanup ran', () => {
  const outcome = outcomeOf(run, 'cooperative.test.ts > rejects on abort and cleans up')
  expect(outcome.status).toBe('failed')
  expect(outcome.failureMessages[0]).toMatch(/^TestStoppedError: Test timed out after 400ms \(testTimeout\)\. It settled after vitest-watchdog aborted its signal/)
  expect(hangOf(run, 'cooperative.test.ts', 'rejects on abort and cleans up').reason).toBe('settled-after-abort')
  // The finally block awaited a timer before recording its cleanup: the test
  // only counted as settled once that had run.
  expect(run.kept['marker.txt']).toBe('cleanup ran\n')
  expect(outcomeOf(run, 'cooperative.test.ts > sees the cleanup of the aborted test').status).toBe('passed')
})

test('a test waiting on a promise that never settles fails at stage abort with no location', () => {
  const outcome = outcomeOf(run, 'async-hang.test.ts > awaits a promise that never settles')
  expect(outcome.status).toBe('failed')
  expect(outcome.failureMessages[0]).toContain('Test timed out after 400ms (testTimeout). vitest-watchdog ended it: no code was running, it was waiting on a promise that never settled.\nTo give it more time: killAfter(ms) in the test\'s options, or testTimeout.')
  expect(hangOf(run, 'async-hang.test.ts', 'awaits a promise that never settles')).toMatchObject({ stage: 'abort', reason: 'never-settled', killAfter: 400, location: null })
  expect(outcomeOf(run, 'async-hang.test.ts > runs next in the same worker').status).toBe('passed')
})

test('both stops are in the report and nothing else', () => {
  expect(run.report?.hangs.map((h) => `${h.file} > ${h.test}: ${h.stage}`).sort()).toEqual([
    'async-hang.test.ts > awaits a promise that never settles: abort',
    'cooperative.test.ts > rejects on abort and cleans up: abort',
  ])
})
