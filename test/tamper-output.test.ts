import { describe, expect, test } from 'vitest'
import { hangOf, outcomeOf, runFixture } from './support/run-fixture.js'

const INJECTED = '\n::error file=x.ts,line=1::pwned'
const ESCAPED = '\\n::error file=x.ts,line=1::pwned'

// A test's name is the user's: printed as it is under GitHub Actions, a
// newline and `::error …` in it would become a workflow command. Vitest's own
// console reporter prints names as they are (not the watchdog's to fix), so
// the run keeps only what the watchdog prints.
describe.each(['forks', 'threads'])('names holding a newline and a workflow command, on %s', (pool) => {
  test('never start a line of their own in the SLOW, kill, summary and leak lines', async () => {
    const run = await runFixture('tamper-names', { args: [`--pool=${pool}`], env: { GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: '' }, reporters: [] })
    const name = (test: string) => `describe${INJECTED} > ${test}${INJECTED}`
    expect(hangOf(run, 'names.test.ts', name('spins'))).toMatchObject({ stage: 'interrupt' })
    expect(hangOf(run, 'names.test.ts', name('waits on a child'))).toMatchObject({ stage: 'kill', reason: 'child-killed' })
    expect(hangOf(run, 'names.test.ts', name('blocks reading a FIFO'))).toMatchObject({ stage: 'kill', reason: 'blocked-outside-js' })
    expect(outcomeOf(run, 'names.test.ts > runs after them').status).toBe('passed')
    const lines = run.output.split('\n')
    expect(lines.filter((line) => line.trimStart().startsWith('::error file=x.ts'))).toEqual([])
    expect(lines.filter((line) => line.includes('pwned') && !line.startsWith('::'))).not.toEqual([])
    // Each kind of line carries the name, escaped, on one line.
    const escaped = (test: string) => `names.test.ts > describe${ESCAPED} > ${test}${ESCAPED}`
    expect(run.output).toContain(`vitest-watchdog: SLOW ${escaped('spins')} (`)
    expect(run.output).toContain(`  interrupt ${escaped('spins')}  after `)
    expect(run.output).toContain(`  kill      ${escaped('waits on a child')}  after `)
    expect(run.output).toContain(`  ${escaped('leaks')}\n    Interval `)
    if (pool === 'threads') {
      expect(run.output).toContain(`the worker thread running "describe${ESCAPED} > blocks reading a FIFO${ESCAPED}" (`)
      expect(run.output).toContain(`a test thread is still blocked or running ("describe${ESCAPED} > blocks reading a FIFO${ESCAPED}" in `)
    }
  })
})

// Node 20's mkdir spins for ever under /proc (and the run then ignores
// SIGTERM): such an outputFile is refused at start, naming the option, the
// value, where it came from and why; the run ends at once with exit code 1.
describe('an outputFile whose folder can never be made fails the run at start', () => {
  test.each([
    ['/proc/x/report.json', 'it resolves to /proc/x/report.json: /proc/x is inside /proc, a kernel file system where no folder can be made'],
    ['/sys/x/y/report.json', 'it resolves to /sys/x/y/report.json: /sys/x/y is inside /sys, a kernel file system where no folder can be made'],
    ['ok.test.ts/report.json', `ok.test.ts is not a directory`],
  ])('%s', async (outputFile, why) => {
    const run = await runFixture('tamper-output-file', { env: { TAMPER_OUTPUT_FILE: outputFile } })
    expect(run.code).toBe(1)
    expect(run.output).toContain('Startup Error')
    expect(run.output).toContain(`WatchdogOptionError: vitest-watchdog: invalid outputFile "${outputFile}" in watchdog() plugin options: expected a path where the report's folder can be written (`)
    expect(run.output).toContain(why)
    expect(run.tests.size).toBe(0)
  })
})

// A stop's words say what the main process observed, and apart from it what
// that usually means; never a guess dressed as the cause.
describe.each(['forks', 'threads'])('a recursion at the edge of the stack that catches RangeError, on %s', (pool) => {
  test('is killed as a running thread that does not take the inspector\'s pause (pause-not-taken), not as one blocked outside JavaScript', async () => {
    const run = await runFixture('tamper-stops', { args: [`--pool=${pool}`, 'recursion'] })
    const hang = hangOf(run, 'recursion.test.ts', 'recurses to the stack limit and catches RangeError for ever')
    expect(hang, hang.note).toMatchObject({ stage: 'kill', reason: 'pause-not-taken', location: null })
    // Node 20 answers the inspector there and never pauses; Node 24 does not even accept the session.
    expect(hang.note).toMatch(/The test thread answered the inspector but did not take the pause within 500ms|The worker's inspector announced itself but did not accept a session within 500ms/)
    // The kernel is asked where it can tell: a worker process's thread.
    if (pool === 'forks') expect(hang.note).toContain('while the kernel reported the thread running (state R).')
    expect(hang.note).toContain('The debugger does not break in JavaScript running near the end of its stack')
    expect(hang.note).not.toMatch(/blocked outside JavaScript|system call such as execSync|child processes it waited on/)
    expect(outcomeOf(run, 'recursion.test.ts > runs after it').status).toBe('passed')
  })
})

// Threads share their process's stderr: closing it there is not a worker's to survive.
test('a test that closed its stderr: the inspector did not announce itself, and the words say so', async () => {
  const run = await runFixture('tamper-stops', { args: ['closed-stderr'] })
  const hang = hangOf(run, 'closed-stderr.test.ts', 'closes its stderr and spins')
  expect(hang).toMatchObject({ stage: 'kill', reason: 'inspector-unavailable', location: null })
  expect(hang.note).toContain("The worker's inspector did not announce itself within 500ms of SIGUSR1 (no address on the worker's stderr), while the kernel reported the thread running (state R); its stderr is closed (fd 2 is no longer the pipe it started with).")
  expect(hang.note).not.toContain('does the test handle SIGUSR1')
  expect(outcomeOf(run, 'closed-stderr.test.ts > runs after it').status).toBe('passed')
})
