import { expect, test } from 'vitest'
import { expectStatus, hangOf, outcomeOf, runFixture, stuckWithin } from './support/run-fixture.js'

// Browser mode beyond a test body: a page that cannot pause, browsers
// without the Chrome DevTools Protocol, the run deadline, the import budget,
// concurrent tests.

const KILLED = 'The page did not answer, and its JavaScript could not be terminated: it is blocked outside JavaScript (a synchronous request, a frozen or crashed tab), so the page was closed.'

test('a page blocked outside JavaScript (a synchronous request that never returns) is closed, and the rest of its file runs in a fresh page: finished tests keep their results, the next file runs', async () => {
  const run = await runFixture('browser-kill')
  expect(run.code).toBe(1)
  expectStatus(run, 'blocked.test.ts > passes first', 'passed')
  expectStatus(run, 'blocked.test.ts > blocks in a synchronous request that never returns', 'failed')
  // 'comes after' also checks, through the browser context's localStorage, that 'passes first' did not run again in the fresh page.
  expectStatus(run, 'blocked.test.ts > comes after', 'passed')
  expectStatus(run, 'second.test.ts > runs after the resumed file', 'passed')
  const failure = outcomeOf(run, 'blocked.test.ts > blocks in a synchronous request that never returns').failureMessages
  expect(failure).toHaveLength(1)
  expect(failure[0]).toMatch(/^TestStoppedError: Test timed out after 400ms \(testTimeout\)\. vitest-watchdog closed the page: it was blocked outside JavaScript\.\n/)
  expect(hangOf(run, 'blocked.test.ts', 'blocks in a synchronous request that never returns')).toMatchObject({ stage: 'kill', reason: 'blocked-outside-js', killAfter: 400, location: null })
  expect(hangOf(run, 'blocked.test.ts', 'blocks in a synchronous request that never returns').note).toContain(KILLED)
  expect(run.report?.hangs).toHaveLength(1)
  expect(run.report?.finished).toEqual([
    { file: 'blocked.test.ts', test: 'passes first', state: 'passed' },
    { file: 'blocked.test.ts', test: 'blocks in a synchronous request that never returns', state: 'failed' },
    { file: 'blocked.test.ts', test: 'comes after', state: 'passed' },
    { file: 'second.test.ts', test: 'runs after the resumed file', state: 'passed' },
  ])
  expect(run.output).toContain(`vitest-watchdog: blocked.test.ts > blocks in a synchronous request that never returns: Test stopped by vitest-watchdog at stage "kill"`)
  expect(run.output).toContain(`${KILLED} (Runtime.terminateExecution: no answer within 2000ms)`)
  expect(run.output).not.toContain('Browser connection was closed')
  expect(run.output).not.toContain('Unhandled Error')
})

test('a page blocked while importing a test file is closed: that file fails with the import stop, and the next file runs in a fresh page', async () => {
  const run = await runFixture('browser-kill-import')
  expect(run.code).toBe(1)
  expect(run.report?.hangs).toMatchObject([{ file: 'a-blocks-on-import.test.ts', test: '(file)', what: 'Import of "a-blocks-on-import.test.ts"', stage: 'kill', reason: 'blocked-outside-js', killAfter: 500, location: null }])
  expect(run.output).toMatch(/TestStoppedError: Import of "a-blocks-on-import\.test\.ts" timed out after 500ms \(watchdog\(\{ importKillAfter \}\)\)\. vitest-watchdog closed the page: it was blocked outside JavaScript/)
  expect(run.tests.has('a-blocks-on-import.test.ts > never collected')).toBe(false)
  expectStatus(run, 'b-next-file.test.ts > runs after the killed import', 'passed')
  expect(run.output).not.toContain('Browser connection was closed')
})

test('a file whose page is closed twice (in a beforeAll, then in a test) resumes twice: the suite of the beforeAll fails, every other test keeps its result', async () => {
  const run = await runFixture('browser-kill-twice')
  expect(run.code).toBe(1)
  expectStatus(run, 'twice.test.ts > passes before both', 'passed')
  expectStatus(run, 'twice.test.ts > setup blocks > never runs: its beforeAll was killed', 'skipped')
  expectStatus(run, 'twice.test.ts > later > passes between the kills', 'passed')
  expectStatus(run, 'twice.test.ts > later > blocks too', 'failed')
  expectStatus(run, 'twice.test.ts > later > passes after both', 'passed')
  expect(hangOf(run, 'twice.test.ts', 'setup blocks')).toMatchObject({ what: 'Hook "beforeAll" of describe "setup blocks"', stage: 'kill', reason: 'blocked-outside-js', killAfter: 400 })
  expect(hangOf(run, 'twice.test.ts', 'later > blocks too')).toMatchObject({ stage: 'kill', reason: 'blocked-outside-js', killAfter: 400 })
  expect(run.report?.hangs).toHaveLength(2)
  expect(run.output).not.toContain('Browser connection was closed')
})

test('when the fresh page cannot connect, the run fails with a WatchdogPageResumeError saying why, and the stop is reported once', async () => {
  const run = await runFixture('browser-kill-no-fresh-page')
  expect(run.code).toBe(1)
  expect(run.output).toContain('WatchdogPageResumeError: vitest-watchdog: cannot resume this file in a fresh page: the fresh page could not be opened: Failed to connect to the browser session')
  expect(run.output).toContain("code: 'ERR_WATCHDOG_PAGE_RESUME_FAILED'")
  expect(run.report?.hangs).toMatchObject([{ file: 'blocked.test.ts', test: 'blocks in a synchronous request that never returns, after refusing fresh pages', stage: 'kill', reason: 'blocked-outside-js', killAfter: 400, location: null }])
  expect(run.tests.get('blocked.test.ts > would come after')?.status).not.toBe('passed')
})

test('a browser other than Chromium is told once, at start, that it gets no stage interrupt', async () => {
  const run = await runFixture('browser-firefox')
  const notes = run.output.match(/vitest-watchdog: browser "firefox" \(provider "playwright"\): stage interrupt needs Chromium through the Playwright provider/g) ?? []
  expect(notes).toHaveLength(1)
  expect(run.output.indexOf('stage interrupt needs Chromium')).toBeLessThan(run.output.indexOf('RUN'))
})

test('a page that spins where nothing is guarded (a setup file of the user) cannot hang the run: runTimeout ends it, and no browser process is left', async () => {
  const run = await runFixture('browser-run-timeout')
  expect(run.code).toBe(1)
  expect(run.output).toMatch(/vitest-watchdog: the run deadline \(runTimeout\) passed \d+ms ago and Vitest has not finished: stopping every worker and exiting\./)
  // Which file, and where: no test of it had started.
  expect(run.output).toMatch(/vitest-watchdog: never-runs\.test\.ts began \d+ms ago and no test of it was running: it was stuck where nothing is guarded/)
  expect(run.report?.running).toMatchObject([{ file: 'never-runs.test.ts', test: '(file)' }])
  expect(run.report?.hangs).toEqual([])
})

test('a top-level loop in a browser test file is interrupted at the import budget; the next file runs', async () => {
  const run = await runFixture('browser-import')
  expect(run.code).toBe(1)
  expect(run.report?.hangs).toMatchObject([{ file: 'a-top-level-loop.test.ts', test: '(file)', what: 'Import of "a-top-level-loop.test.ts"', stage: 'interrupt', reason: 'interrupted', killAfter: 500, location: stuckWithin('a-top-level-loop.test.ts', [4, 5, 6]) }])
  expect(run.output).toContain('TestStoppedError: Import of "a-top-level-loop.test.ts" timed out after')
  expect(run.tests.get('b-next-file.test.ts > runs after the stopped import')?.status).toBe('passed')
})

test('concurrent tests in one page: the stop goes to the test whose code is stuck, and its sibling, held up meanwhile, passes', async () => {
  const run = await runFixture('browser-concurrent')
  expect(hangOf(run, 'concurrent.test.ts', 'two tests share the page > spins')).toMatchObject({ stage: 'interrupt', reason: 'interrupted', location: { file: 'concurrent.test.ts', line: 13 } })
  expect(run.tests.get('concurrent.test.ts > two tests share the page > waits for a short timer, held up by its sibling')?.status).toBe('passed')
})

test("a page's last run, ending by its own timer when the main process's stop is due too, ends at stage abort: the idle page is neither interrupted nor closed", async () => {
  const run = await runFixture('browser-concurrent')
  expect(hangOf(run, 'last-never-settles.test.ts', 'waits forever, last')).toMatchObject({ stage: 'abort', reason: 'never-settled', location: null })
  expect(run.report?.hangs).toHaveLength(2)
  expect(run.output).not.toContain('Browser connection was closed')
})

test('runTimeout clamps budgets in the page: a spinning test is interrupted at the run deadline, and the test after it does not run', async () => {
  const run = await runFixture('browser-run-deadline')
  expect(run.code).toBe(1)
  expect(hangOf(run, 'spins.test.ts', 'spins past the run deadline')).toMatchObject({ stage: 'interrupt', reason: 'interrupted', location: { file: 'spins.test.ts', line: 4 } })
  expect(run.tests.get('spins.test.ts > spins past the run deadline')?.failureMessages[0]).toContain('(watchdog({ runTimeout }): the run deadline)')
  expect(run.tests.get('spins.test.ts > would start after the deadline')?.status).toBe('skipped')
  expect(run.output).toContain('vitest-watchdog: the run deadline (runTimeout) passed: tests still running then were stopped, and the tests after them did not run.')
})
