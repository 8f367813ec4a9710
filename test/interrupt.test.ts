import { beforeAll, describe, expect, test } from 'vitest'
import { hangOf, outcomeOf, runFixture, type FixtureRun } from './support/run-fixture.js'

// fixtures/interrupt: four ways to hang the test thread with JavaScript that
// never yields. Each file's hung test must be interrupted (not killed), and the
// test after it must then pass in the same worker.
let run: FixtureRun

beforeAll(async () => {
  run = await runFixture('interrupt')
})

const scenarios = [
  { file: 'sync-loop.test.ts', test: 'spins forever', line: 15, column: 3 },
  { file: 'catch-all.test.ts', test: 'swallows every error', line: 4 },
  { file: 'microtask-loop.test.ts', test: 'awaits in a loop that never ends', line: 6 },
  { file: 'atomics-wait.test.ts', test: 'waits on a futex forever', line: 5 },
]

test("no line of the inspector the watchdog opened reaches the terminal, on any Node version", () => {
  expect(run.output).not.toMatch(/Debugger listening|For help, see|Debugger attached|Waiting for the debugger/)
})

describe.each(scenarios)('$file', ({ file, test: name, line, column }) => {
  test('the hung test fails at stage interrupt, naming the stage, the elapsed time and the budget', () => {
    const outcome = outcomeOf(run, `${file} > ${name}`)
    expect(outcome.status).toBe('failed')
    expect(outcome.failureMessages[0]).toMatch(/^TestStoppedError: Test timed out after 400ms \(testTimeout\)\. vitest-watchdog interrupted it at /)
    expect(outcome.failureMessages[0]).toContain(`interrupted it at ${file}:${line}:`)
  })

  test('the report holds the hang at the original source line', () => {
    const hang = hangOf(run, file, name)
    expect(hang).toMatchObject({ file, test: name, stage: 'interrupt', killAfter: 400, location: { file, line } })
    if (column !== undefined) expect(hang.location?.column).toBe(column)
    expect(hang.elapsedMs).toBeGreaterThanOrEqual(400)
    expect(hang.reason).toBe('interrupted')
    // The first frame, below the error's two lines of message.
    expect(hang.stack.split('\n').find((frame) => frame.trimStart().startsWith('at '))).toContain(`${file}:${line}:`)
  })

  test('the next test of the file passes in the same worker', () => {
    expect(outcomeOf(run, `${file} > runs next in the same worker`).status).toBe('passed')
  })
})

test('the run ends with a failure exit code, and Vitest prints a code frame at the stuck line', () => {
  expect(run.code).toBe(1)
  expect(run.output).toMatch(/❯ sync-loop\.test\.ts:15:3\n(.*\n){2}.*15\|\s+while \(true\) \{\}/)
  expect(run.report?.hangs).toHaveLength(4)
})

test('the interrupt keeps the worker: no test of the run is lost', () => {
  expect([...run.tests.values()].map((t) => t.status).sort()).toEqual(['failed', 'failed', 'failed', 'failed', 'passed', 'passed', 'passed', 'passed'])
})

test("a tight loop through the watchdog's own wrappers (timers, with leak tracking on) is interrupted like any loop", async () => {
  const wrapped = await runFixture('interrupt-wrapped')
  expect(hangOf(wrapped, 'timers-loop.test.ts', 'creates and clears timers forever')).toMatchObject({ stage: 'interrupt', reason: 'interrupted', location: { file: 'timers-loop.test.ts', line: 7 } })
  expect(outcomeOf(wrapped, 'timers-loop.test.ts > runs next in the same worker').status).toBe('passed')
})
