import { beforeAll, describe, expect, test } from 'vitest'
import { expectStatus, hangOf, runFixture, type FixtureRun } from './support/run-fixture.js'

// What a worker prints or sets is a hint, never authority: a test that leaves
// behind what a debugger would (a "Debugger listening" line, an inspector
// opened and closed, --inspect in process.execArgv, a replaced process.env or
// process) does not stand the watchdog down. Each later spin is interrupted,
// with its line, and the file goes on. A debugger that really holds a test
// paused is left alone, for that stop only.

/** Each file's spin, the line of its one-line loop, and the test that passes after it. */
const SPINS: Array<[file: string, spin: string, line: number]> = [
  ['stderr-line.test.ts', 'spins after it', 9],
  ['child-inspector.test.ts', 'spins after it', 10],
  ['open-close.test.ts', 'spins after it', 11],
  ['open-left.test.ts', 'spins after it', 12],
  ['exec-argv.test.ts', 'spins after it', 9],
  ['env-replaced.test.ts', 'replaces process.env, then spins', 9],
  ['env-replaced.test.ts', 'spins again', 13],
  ['stub-process.test.ts', 'spins after it', 9],
]
const FILES = [...new Set(SPINS.map(([file]) => file))]

function expectInterrupted(run: FixtureRun, file: string, spin: string, line: number): void {
  expect(hangOf(run, file, spin)).toMatchObject({ stage: 'interrupt', reason: 'interrupted', location: { file, line } })
  expectStatus(run, `${file} > runs next in the same worker`, 'passed')
}

describe.each([['forks'], ['threads']])('--pool=%s', (pool) => {
  let run: FixtureRun
  beforeAll(async () => {
    run = await runFixture('tamper-debugger', { args: [`--pool=${pool}`, ...FILES] })
  })

  test.each(SPINS)('%s: "%s" is interrupted at its line %i, and the next test runs in the same worker', (file, spin, line) => {
    expectInterrupted(run, file, spin, line)
  })

  test('the tests before each spin pass, nothing stands down, and only the spins are stopped', () => {
    for (const key of [
      'stderr-line.test.ts > prints what Node prints for an inspector',
      'child-inspector.test.ts > runs a child under --inspect that shares its stderr',
      'open-close.test.ts > opens its inspector and closes it again',
      'open-left.test.ts > opens its inspector and leaves it open',
      'exec-argv.test.ts > pretends to run under --inspect',
      'env-replaced.test.ts > passes first',
      'stub-process.test.ts > stubs the process global',
    ]) expectStatus(run, key, 'passed')
    expect(run.output).not.toMatch(/standing down|is paused in a debugger/)
    expect(run.report?.hangs.map((hang) => `${hang.file} > ${hang.test}`).sort()).toEqual(SPINS.map(([file, spin]) => `${file} > ${spin}`).sort())
  })
})

describe.each([['forks'], ['threads']])('isolate: false, --pool=%s', (pool) => {
  test('what one file left behind does not stand the next file down in the same worker', async () => {
    const run = await runFixture('tamper-debugger', { args: [`--pool=${pool}`, '--no-isolate', '--no-file-parallelism', 'carry-'] })
    expectStatus(run, 'carry-1-leaves-traces.test.ts > leaves what a debugger would leave behind', 'passed')
    expectInterrupted(run, 'carry-2-spins.test.ts', 'spins in the next file', 4)
  })
})

describe.each([['vmThreads'], ['vmForks']])('--pool=%s', (pool) => {
  test('a stubbed process global breaks nothing of the runner: the spin after it is interrupted, and the rest of the file runs', async () => {
    const run = await runFixture('tamper-debugger', { args: [`--pool=${pool}`, 'stub-process', 'exec-argv'] })
    expect(run.output).not.toContain('TypeError')
    expectStatus(run, 'stub-process.test.ts > stubs the process global', 'passed')
    expectInterrupted(run, 'stub-process.test.ts', 'spins after it', 9)
    expectInterrupted(run, 'exec-argv.test.ts', 'spins after it', 9)
  })
})

// A thread has no signal of its own: the test opens the thread's inspector for its debugger.
describe.each([['forks'], ['vmForks'], ['threads'], ['vmThreads']])('a debugger attached later (kill -USR1), --pool=%s', (pool) => {
  test('a test it holds paused past its budget is left alone, said once; the next spin in the same worker is interrupted', async () => {
    const run = await runFixture('tamper-debugger', { args: [`--pool=${pool}`, 'held-by-debugger'] })
    expectStatus(run, 'held-by-debugger.test.ts > is held paused by a debugger past its budget', 'passed')
    expect(run.output.match(/vitest-watchdog: held-by-debugger\.test\.ts > is held paused by a debugger past its budget is paused in a debugger; this stop leaves it alone/g)).toHaveLength(1)
    expectInterrupted(run, 'held-by-debugger.test.ts', 'spins once the debugger let go', 36)
    expect(run.report?.hangs).toHaveLength(1)
  })
})
