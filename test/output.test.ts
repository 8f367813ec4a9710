import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { hangOf, outcomeOf, runFixture, vitestMajor } from './support/run-fixture.js'

/** Vitest's output with what varies from run to run (durations, the clock) taken out. */
function steady(output: string): string {
  return output
    .split('\n')
    // Vite's own lines about optimizing the page's dependencies (browser mode) come and go with its cache.
    .filter((line) => !/^\s*(Start at|Duration)\s/.test(line) && !line.includes('[vite]'))
    .join('\n')
    .replace(/\b\d+ms\b/g, '<ms>')
    .replace(/watchdog-test-\w+/g, '<dir>')
}

/** Each stream on its own: how Vitest's stdout and stderr chunks interleave in one pipe reader varies. */
function streams(run: { stdout: string; stderr: string }): string {
  return `${steady(run.stdout)}\n--- stderr ---\n${steady(run.stderr)}`
}

test('in a page too, a failing test prints exactly what it prints without the plugin', async () => {
  const env = { WATCHDOG_BROWSER: '1' }
  const guarded = await runFixture('output', { env })
  const plain = await runFixture('output', { env: { ...env, WATCHDOG_OFF: '1' } })
  expect(guarded.output).toContain('AssertionError: expected 1 to be 2')
  expect(guarded.output).not.toMatch(/dist\/(worker|browser)|vitest-watchdog/)
  expect(streams(guarded)).toBe(streams(plain))
})

test("a user's own onStackTrace still applies, after the watchdog's frames are dropped", async () => {
  const env = { WATCHDOG_USER_FILTER: '1' }
  const [guarded, plain] = await Promise.all([runFixture('output', { env }), runFixture('output', { env: { ...env, WATCHDOG_OFF: '1' } })])
  expect(guarded.output).not.toContain('failures.test.ts:4:13')
  expect(guarded.output).not.toMatch(/dist\/(worker|browser)|vitest-watchdog/)
  expect(streams(guarded)).toBe(streams(plain))
})

for (const pool of ['forks', 'threads']) {
  test(`a failing test prints exactly what it prints without the plugin (${pool})`, async () => {
    const args = [`--pool=${pool}`]
    const [guarded, plain] = await Promise.all([runFixture('output', { args }), runFixture('output', { args, env: { WATCHDOG_OFF: '1' } })])
    expect(guarded.code).toBe(1)
    expect(guarded.output).toContain('AssertionError: expected 1 to be 2')
    expect(guarded.output).not.toMatch(/dist\/(worker|browser)|vitest-watchdog/)
    expect(streams(guarded)).toBe(streams(plain))
    expect(guarded.report).toMatchObject({ hangs: [], leaks: [] })
  })
}

for (const pool of ['forks', 'threads']) {
  test(`a timeout passed to one test or hook is its budget, and each stop is reported once (${pool})`, async () => {
    const run = await runFixture('output', { args: [`--pool=${pool}`], env: { WATCHDOG_FILES: 'timeouts.test.ts' } })
    expect(run.code).toBe(1)
    // The hook's 1000 ms, not hookTimeout's 10 s.
    expect(hangOf(run, 'timeouts.test.ts', 'spins past its own timeout')).toMatchObject({ stage: 'interrupt', reason: 'interrupted', killAfter: 1500, location: { line: 4 } })
    expect(hangOf(run, 'timeouts.test.ts', 'a beforeAll with its own timeout')).toMatchObject({ stage: 'interrupt', reason: 'interrupted', killAfter: 1000, location: { line: 9 } })
    // Vitest's own timer for that timeout never fires after the stop.
    expect(run.output).not.toMatch(/Unhandled|timed out in \d+ms|Errors\s+\d+ error/)
    expect(outcomeOf(run, 'timeouts.test.ts > spins past its own timeout').failureMessages).toHaveLength(1)
  })
}

test('in a page too, a timeout passed to one test or hook is its budget, and each stop is reported once', async () => {
  const run = await runFixture('output', { env: { WATCHDOG_BROWSER: '1', WATCHDOG_FILES: 'timeouts.test.ts' } })
  expect(run.code).toBe(1)
  // The hook's 1000 ms, not the page's hookTimeout of 30 s; the lines come from the page's CPU profile (one-line loops).
  expect(hangOf(run, 'timeouts.test.ts', 'spins past its own timeout')).toMatchObject({ stage: 'interrupt', reason: 'interrupted', killAfter: 1500, location: { line: 4 } })
  expect(hangOf(run, 'timeouts.test.ts', 'a beforeAll with its own timeout')).toMatchObject({ stage: 'interrupt', reason: 'interrupted', killAfter: 1000, location: { line: 9 } })
  expect(run.output).not.toMatch(/Unhandled|timed out in \d+ms|Errors\s+\d+ error/)
})

test('on GitHub Actions, one ::error per stop, at the stuck line or at the test when nothing was running; a stop a retry made up for is no failure', async () => {
  const run = await runFixture('output', {
    reporters: ['default', 'github-actions'],
    env: { GITHUB_ACTIONS: 'true', WATCHDOG_TEST_TIMEOUT: '400', WATCHDOG_FILES: '{github,retry}.test.ts' },
  })
  const errors = run.output.split('\n').filter((line) => line.startsWith('::error '))
  expect(errors, run.output).toHaveLength(2)
  expect(errors.filter((line) => /github\.test\.ts,.*line=4,col(umn)?=3::/.test(line))).toHaveLength(1)
  expect(errors.filter((line) => /github\.test\.ts,.*line=7,col(umn)?=1::/.test(line))).toHaveLength(1)
  expect(hangOf(run, 'github.test.ts', 'spins')).toMatchObject({ stage: 'interrupt', reason: 'interrupted' })
  expect(hangOf(run, 'github.test.ts', 'waits forever')).toMatchObject({ stage: 'abort', reason: 'never-settled', location: null })
  // The retried test passed: reported as such, and not counted among the failures.
  expect(outcomeOf(run, 'retry.test.ts > hangs on the first attempt, passes on the retry').status).toBe('passed')
  expect(hangOf(run, 'retry.test.ts', 'hangs on the first attempt, passes on the retry')).toMatchObject({ stage: 'interrupt', passedOnRetry: true })
  expect(run.output).toContain('vitest-watchdog: 2 tests stopped or crashed')
  expect(run.output).toContain('vitest-watchdog: 1 test stopped, then passed on retry')
})

test("without Vitest's github-actions reporter, the watchdog's own annotation stands in, at the test's line when nothing was running", async () => {
  const run = await runFixture('output', { env: { GITHUB_ACTIONS: 'true', WATCHDOG_TEST_TIMEOUT: '400', WATCHDOG_FILES: 'github.test.ts' } })
  const errors = run.output.split('\n').filter((line) => line.startsWith('::error '))
  expect(errors, run.output).toHaveLength(2)
  expect(errors.filter((line) => /github\.test\.ts,line=4,col=3,/.test(line))).toHaveLength(1)
  expect(errors.filter((line) => /github\.test\.ts,line=7,col=1,/.test(line))).toHaveLength(1)
})

test('the stop says, in two lines, that the test timed out, what the watchdog did and where, and how to give it more time', async () => {
  const run = await runFixture('output', { env: { WATCHDOG_TEST_TIMEOUT: '400', WATCHDOG_FILES: 'github.test.ts' } })
  const [spins] = outcomeOf(run, 'github.test.ts > spins').failureMessages
  expect(spins?.split('\n').slice(0, 2)).toEqual([
    'TestStoppedError: Test timed out after 400ms (testTimeout). vitest-watchdog interrupted it at github.test.ts:4:3.',
    "To give it more time: killAfter(ms) in the test's options, or testTimeout.",
  ])
  const [waits] = outcomeOf(run, 'github.test.ts > waits forever').failureMessages
  expect(waits?.split('\n').slice(0, 2)).toEqual([
    'TestStoppedError: Test timed out after 400ms (testTimeout). vitest-watchdog ended it: no code was running, it was waiting on a promise that never settled.',
    "To give it more time: killAfter(ms) in the test's options, or testTimeout.",
  ])
  // The whole account (stage, time taken, what was seen) is the report's.
  expect(hangOf(run, 'github.test.ts', 'spins').note).toMatch(/^Test stopped by vitest-watchdog at stage "interrupt" after \d+ms \(killAfter 400ms, from testTimeout\)\. It was stuck at github\.test\.ts:4:3\./)
})

test.runIf(vitestMajor === 4)("the README's example output is what Vitest prints, without the plugin and with it (on Vitest 4, whose output the README shows; skipped on 5)", async () => {
  const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8')
  const example = (name: string) => new RegExp(`<!-- readme-output:${name} -->\\n\`\`\`\\n([^]*?)\`\`\``).exec(readme)?.[1]
  const env = { WATCHDOG_TEST_TIMEOUT: '1500', WATCHDOG_FILES: 'readme.test.ts' }
  const [guarded, plain] = await Promise.all([runFixture('output', { env }), runFixture('output', { env: { ...env, WATCHDOG_OFF: '1' } })])
  for (const [name, run] of [['plain', plain], ['watchdog', guarded]] as const) {
    const block = example(name)
    expect(block, name).toBeTruthy()
    expect(run.output).toContain(block)
  }
})
