import { beforeAll, describe, expect, test } from 'vitest'
import { hangOf, outcomeOf, runFixture, type FixtureRun } from './support/run-fixture.js'

// pool: 'threads' (and the vm pools). The main thread reaches the test thread
// through its NodeWorker domain, and the kill stage terminates the thread. Not applicable under threads: a test that
// SIGKILLs its own process (that process is Vitest itself), process.abort()
// and process.exit() for the same reason.
describe('the same fixtures as under forks, with --pool=threads', () => {
  let interrupt: FixtureRun
  let abort: FixtureRun
  let kill: FixtureRun
  beforeAll(async () => {
    ;[interrupt, abort, kill] = await Promise.all([
      runFixture('interrupt', { args: ['--pool=threads'] }),
      runFixture('abort', { args: ['--pool=threads'] }),
      // The other files of fixtures/kill crash their own process: under threads that is Vitest itself.
      runFixture('kill', { args: ['--pool=threads', 'exec-sync', 'timer-loop'] }),
    ])
  })

  test.each([
    ['sync-loop.test.ts', 'spins forever', 15],
    ['catch-all.test.ts', 'swallows every error', 4],
    ['microtask-loop.test.ts', 'awaits in a loop that never ends', 6],
    ['atomics-wait.test.ts', 'waits on a futex forever', 5],
  ])('%s: interrupted, the same error and line, the next test in the same worker', (file, name, line) => {
    expect(hangOf(interrupt, file, name)).toMatchObject({ stage: 'interrupt', killAfter: 400, location: { file, line } })
    expect(outcomeOf(interrupt, `${file} > ${name}`).failureMessages[0]).toMatch(/^TestStoppedError: Test timed out after \d+ms \(testTimeout\)\. vitest-watchdog interrupted it at /)
    expect(outcomeOf(interrupt, `${file} > runs next in the same worker`).status).toBe('passed')
  })

  test('abort: a cooperative test settles with its cleanup done; an async hang stops at abort', () => {
    expect(hangOf(abort, 'cooperative.test.ts', 'rejects on abort and cleans up').stage).toBe('abort')
    expect(outcomeOf(abort, 'cooperative.test.ts > sees the cleanup of the aborted test').status).toBe('passed')
    expect(hangOf(abort, 'async-hang.test.ts', 'awaits a promise that never settles')).toMatchObject({ stage: 'abort', location: null })
  })

  test('kill: execSync of a long sleep; its sleep is killed, which frees the thread, and the file goes on in the same thread', () => {
    expect(hangOf(kill, 'exec-sync.test.ts', 'blocks in a system call')).toMatchObject({ stage: 'kill', reason: 'child-killed' })
    for (const name of ['passes before the hang', 'runs in the same worker once the child it waited on was killed', 'and so does the one after it']) {
      expect(outcomeOf(kill, `exec-sync.test.ts > ${name}`).status).toBe('passed')
    }
  })

  test('a loop inside a timer callback cannot be terminated safely in a thread: it is abandoned, said plainly, and the file goes on', () => {
    const outcome = outcomeOf(kill, 'timer-loop.test.ts > spins inside a timer callback')
    expect(outcome.failureMessages[0]).toContain("vitest-watchdog left its thread behind, unref'd: it was spinning inside a timer or I/O callback")
    expect(hangOf(kill, 'timer-loop.test.ts', 'spins inside a timer callback').note).toContain('the thread was abandoned: it keeps spinning')
    expect(hangOf(kill, 'timer-loop.test.ts', 'spins inside a timer callback')).toMatchObject({ reason: 'unsafe-async-callback', location: { file: 'timer-loop.test.ts', line: 6 } })
    expect(outcomeOf(kill, 'timer-loop.test.ts > runs after the timer loop was stopped').status).toBe('passed')
    // The abandoned thread does not keep Vitest up until its close timeout (teardownTimeout).
    expect(kill.output).not.toContain('close timed out')
  })

  test('every declared test is reported once', () => {
    expect([interrupt.tests.size, abort.tests.size, kill.tests.size]).toEqual([8, 4, 6])
  })
})

test('leak reports work unchanged under threads', async () => {
  const run = await runFixture('leaks', { args: ['--pool=threads'] })
  const leak = run.report?.leaks.find((l) => l.test === 'leaks an interval')
  expect(leak).toMatchObject({ type: 'Interval', location: { file: 'leaky.test.ts', line: 17 } })
  expect(run.report?.leaks.filter((l) => l.file === 'tidy.test.ts')).toEqual([])
  expect(outcomeOf(run, 'leaky.test.ts > in fail mode > fails because it leaks').status).toBe('failed')
})

describe.each(['vmForks', 'vmThreads'])('pool %s, chosen on the command line, gets the whole ladder', (pool) => {
  test('a blocked test is freed by killing its child; a timer-callback loop is stopped; totals are exact', async () => {
    const run = await runFixture('kill', { args: [`--pool=${pool}`, 'exec-sync', 'timer-loop'] })
    expect(hangOf(run, 'exec-sync.test.ts', 'blocks in a system call')).toMatchObject({ stage: 'kill', reason: 'child-killed' })
    expect(outcomeOf(run, 'exec-sync.test.ts > runs in the same worker once the child it waited on was killed').status).toBe('passed')
    expect(hangOf(run, 'timer-loop.test.ts', 'spins inside a timer callback').location).toMatchObject({ line: 6 })
    expect(outcomeOf(run, 'timer-loop.test.ts > runs after the timer loop was stopped').status).toBe('passed')
    expect(run.tests.size).toBe(6)
    expect(run.output).not.toContain('is not one of Vitest\'s own')
    expect(run.output).not.toContain('close timed out')
  })
})

test('a thread blocked in a system call that no child holds (a FIFO read) is left behind, and the run still ends, with every result and its exit status', async () => {
  const run = await runFixture('kill-worker', { args: ['--pool=threads'] })
  expect(hangOf(run, 'fifo.test.ts', 'blocks reading a FIFO nobody writes to')).toMatchObject({ stage: 'kill', reason: 'blocked-outside-js' })
  expect(outcomeOf(run, 'fifo.test.ts > passes before the hang').status).toBe('passed')
  expect(outcomeOf(run, 'fifo.test.ts > runs in a fresh worker after the kill').status).toBe('passed')
  expect(run.output).toContain('a test thread is still blocked or running ("blocks reading a FIFO nobody writes to"')
  // Node cannot join that thread at exit: with process.execve the process
  // replaces itself and keeps the exit code, otherwise it ends by SIGKILL.
  if ('execve' in process) expect({ code: run.code, signal: run.signal }).toEqual({ code: 1, signal: null })
  else expect({ code: run.code, signal: run.signal }).toEqual({ code: null, signal: 'SIGKILL' })
  // It ended on its own, not at Vitest's close timeout (teardownTimeout, 10 s).
  expect(run.output).not.toContain('close timed out')
})

test('the run deadline passes while a thread is blocked for good: the file resumed after it keeps its results, and the run ends', async () => {
  const run = await runFixture('kill-worker', { args: ['--pool=threads', '--config', 'vitest.run-timeout.config.ts'] })
  expect(hangOf(run, 'fifo.test.ts', 'blocks reading a FIFO nobody writes to')).toMatchObject({ stage: 'kill', reason: 'blocked-outside-js' })
  expect(outcomeOf(run, 'fifo.test.ts > passes before the hang').status).toBe('passed')
  // Past the deadline, what had not run is skipped, not lost with the file.
  expect(outcomeOf(run, 'fifo.test.ts > runs in a fresh worker after the kill').status).toBe('skipped')
  expect(run.output).toContain('a test thread is still blocked or running')
})
