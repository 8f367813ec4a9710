import { beforeAll, describe, expect, test } from 'vitest'
import { expectStatus, hangOf, outcomeOf, runFixture, type FixtureRun } from './support/run-fixture.js'

// fixtures/kill: tests that cannot be interrupted (a system call, a loop in a
// timer callback) or that take their worker down. The runFixture harness fails
// if any process, the `sleep` included, outlives the run.
let run: FixtureRun

beforeAll(async () => {
  run = await runFixture('kill')
})

describe('execSync of a long sleep', () => {
  test('fails at stage kill, saying why the interrupt could not work', () => {
    const outcome = outcomeOf(run, 'exec-sync.test.ts > blocks in a system call')
    expect(outcome.status).toBe('failed')
    expect(outcome.failureMessages[0]).toMatch(/^TestStoppedError: Test timed out after 400ms \(testTimeout\)\. vitest-watchdog killed /)
    expect(hangOf(run, 'exec-sync.test.ts', 'blocks in a system call')).toMatchObject({ stage: 'kill', reason: 'child-killed', killAfter: 400, location: null })
  })

  test('killing the child it waited on frees the thread: the file goes on in the same worker, hooks as a user expects', () => {
    // The fixture asserts that beforeAll did not run again and that every
    // hook ran in order in the one worker: these pass only if both held.
    for (const name of ['passes before the hang', 'runs in the same worker once the child it waited on was killed', 'and so does the one after it']) {
      expect(outcomeOf(run, `exec-sync.test.ts > ${name}`).status).toBe('passed')
    }
  })
})

test('blocked where killing children cannot help (a FIFO read): the worker is killed, the file resumes in a fresh one', async () => {
  const blocked = await runFixture('kill-worker')
  expect(hangOf(blocked, 'fifo.test.ts', 'blocks reading a FIFO nobody writes to')).toMatchObject({ stage: 'kill', reason: 'blocked-outside-js', location: null })
  // The fixture asserts that beforeAll ran again in the fresh worker and that
  // the next test's beforeEach ran there.
  expectStatus(blocked, 'fifo.test.ts > passes before the hang', 'passed')
  expectStatus(blocked, 'fifo.test.ts > runs in a fresh worker after the kill', 'passed')
})

test('a busy loop inside a timer callback is killed (terminating there would crash Node) and its line reported', () => {
  const outcome = outcomeOf(run, 'timer-loop.test.ts > spins inside a timer callback')
  expect(outcome.failureMessages[0]).toContain('vitest-watchdog killed the worker: it was spinning inside a timer or I/O callback, stuck at timer-loop.test.ts:6:7; the rest of the file ran in a fresh one.')
  expect(hangOf(run, 'timer-loop.test.ts', 'spins inside a timer callback')).toMatchObject({ stage: 'kill', reason: 'unsafe-async-callback', location: { file: 'timer-loop.test.ts', line: 6, column: 7 } })
  expect(outcomeOf(run, 'timer-loop.test.ts > runs after the timer loop was stopped').status).toBe('passed')
})

test('a file resumed in a fresh worker shows its true duration: at least that of the killed test in it, not the fresh worker\'s part', () => {
  const file = run.output.match(/^ ❯ timer-loop\.test\.ts \(2 tests \| 1 failed\) (\d+)ms$/m)
  const killed = run.output.match(/^   × spins inside a timer callback (\d+)ms$/m)
  expect(file, run.output).not.toBeNull()
  expect(killed, run.output).not.toBeNull()
  expect(Number(file![1])).toBeGreaterThanOrEqual(Number(killed![1]))
})

describe.each([
  { file: 'self-sigkill.test.ts', test: 'kills its own worker', after: 'runs after the crash', how: 'killed by SIGKILL', crash: { signal: 'SIGKILL', exitCode: null } },
  { file: 'abort.test.ts', test: 'calls process.abort()', after: 'runs after the abort', how: 'killed by SIGABRT', crash: { signal: 'SIGABRT', exitCode: null } },
  { file: 'exit.test.ts', test: "calls process.exit(3) behind Vitest's back", after: 'runs after the exit', how: 'exit code 3', crash: { signal: null, exitCode: 3 } },
])('a worker that dies: $file', ({ file, test: name, after, how, crash }) => {
  test('the running test fails naming how the worker died', () => {
    const outcome = outcomeOf(run, `${file} > ${name}`)
    expect(outcome.status).toBe('failed')
    expect(outcome.failureMessages[0]).toMatch(new RegExp(`^WorkerCrashError: The worker process died during this test \\(${how}\\) after \\d+ms`))
    expect(hangOf(run, file, name)).toMatchObject({ stage: 'kill', reason: 'crashed', crash })
  })

  test('the tests before and after it keep their real results', () => {
    expect(outcomeOf(run, `${file} > passes first`).status).toBe('passed')
    expect(outcomeOf(run, `${file} > ${after}`).status).toBe('passed')
  })
})

test('an interrupt and then a kill in one file: each test reported once, in the report too', () => {
  expect(outcomeOf(run, 'mixed.test.ts > is interrupted first').failureMessages[0]).toContain('vitest-watchdog interrupted it at')
  expect(outcomeOf(run, 'mixed.test.ts > is killed next').failureMessages[0]).toContain('vitest-watchdog killed')
  expect(outcomeOf(run, 'mixed.test.ts > passes last').status).toBe('passed')
  expect(run.report?.hangs.filter((h) => h.file === 'mixed.test.ts').map((h) => `${h.test}: ${h.stage}`)).toEqual([
    'is interrupted first: interrupt',
    'is killed next: kill',
  ])
})

test('a blocked beforeAll is killed: its suite fails and its tests are skipped, the file\'s other suites run', () => {
  expect(hangOf(run, 'before-all-blocked.test.ts', 'a suite whose beforeAll blocks')).toMatchObject({ stage: 'kill', killAfter: 400, what: 'Hook "beforeAll" of describe "a suite whose beforeAll blocks"' })
  expect(run.output).toContain('Hook "beforeAll" of describe "a suite whose beforeAll blocks" timed out after')
  expectStatus(run, 'before-all-blocked.test.ts > passes before', 'passed')
  expectStatus(run, 'before-all-blocked.test.ts > a suite whose beforeAll blocks > is skipped: its beforeAll was killed', 'skipped')
  expectStatus(run, 'before-all-blocked.test.ts > another suite > still runs and passes', 'passed')
})

test('bookkeeping is exact: every declared test reported once, in its true state', () => {
  expect(run.tests.size).toBe(21)
  const statuses = [...run.tests.values()].map((t) => t.status)
  expect(statuses.filter((s) => s === 'passed')).toHaveLength(13)
  expect(statuses.filter((s) => s === 'failed')).toHaveLength(7)
  expect(statuses.filter((s) => s === 'skipped')).toHaveLength(1)
  expect(run.report?.hangs).toHaveLength(8)
  expect(run.output).toMatch(/Tests\s+7 failed \| 13 passed \| 1 skipped \(21\)/)
  // Each file is printed once in the summary.
  expect(run.output.match(/❯ exec-sync\.test\.ts \(4 tests/g)).toHaveLength(1)
})

describe('fixtures/crash-loop: a worker that keeps dying does not loop', () => {
  let loop: FixtureRun
  beforeAll(async () => {
    loop = await runFixture('crash-loop')
  })

  test('each crashed test is resumed once and fails; the file completes', () => {
    for (const name of ['first crash', 'second crash', 'third crash']) {
      expect(outcomeOf(loop, `every-test-crashes.test.ts > ${name}`).status).toBe('failed')
    }
  })

  test('a crash in an afterAll fails that suite; the file goes on in a fresh worker', () => {
    expectStatus(loop, 'hook-crash.test.ts > finishes before the crash', 'passed')
    expectStatus(loop, 'hook-crash.test.ts > a suite whose afterAll crashes > passes', 'passed')
    expectStatus(loop, 'hook-crash.test.ts > comes after the crashing hook', 'passed')
    expect(loop.output).toMatch(/WorkerCrashError: The worker process died during the afterAll hook of this suite \(killed by SIGKILL\) after \d+ms/)
    expect(hangOf(loop, 'hook-crash.test.ts', 'a suite whose afterAll crashes')).toMatchObject({ stage: 'kill', crash: { signal: 'SIGKILL', exitCode: null } })
    expect(loop.output).toMatch(/Tests\s+3 failed \| 3 passed \| 1 skipped \(7\)/)
  })

  test('a crash outside any test and any suite hook reports what finished and marks the rest not run, with the reason', () => {
    expectStatus(loop, 'import-crash.test.ts > would pass', 'skipped')
    expect(loop.output).toContain('WorkerCrashError: The worker died outside any test (killed by SIGKILL): in a hook, the import of the file or its teardown.')
  })
})
