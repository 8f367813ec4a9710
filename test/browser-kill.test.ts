import { expect, test } from 'vitest'
import { hangOf, runFixture } from './support/run-fixture.js'

// Browser mode beyond a test body: a page that cannot pause, browsers
// without the Chrome DevTools Protocol, the run deadline, the import budget,
// concurrent tests.

test('a page blocked outside JavaScript (a synchronous request that never returns) is closed: the run ends and the report names the test at stage kill', async () => {
  const run = await runFixture('browser-kill')
  expect(run.code).toBe(1)
  expect(hangOf(run, 'blocked.test.ts', 'blocks in a synchronous request that never returns')).toMatchObject({ stage: 'kill', reason: 'blocked-outside-js', killAfter: 400, location: null })
  expect(run.report?.hangs).toHaveLength(1)
  expect(run.output).toContain('vitest-watchdog: blocked.test.ts > blocks in a synchronous request that never returns: Test stopped by vitest-watchdog at stage "kill"')
  expect(run.output).toContain('The page did not answer, and its JavaScript could not be terminated: it is blocked outside JavaScript (a synchronous request, a frozen or crashed tab), so the page was closed. (Runtime.terminateExecution: no answer within 2000ms)')
  // Vitest fails the file whose page went away: its results are not kept (see README, "Browser mode").
  expect(run.output).toContain('Browser connection was closed while running tests')
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
  expect(run.report?.hangs).toMatchObject([{ file: 'a-top-level-loop.test.ts', test: '(file)', what: 'Import of "a-top-level-loop.test.ts"', stage: 'interrupt', reason: 'interrupted', killAfter: 500, location: { file: 'a-top-level-loop.test.ts', line: 4, column: 1 } }])
  expect(run.output).toContain('TestStoppedError: Import of "a-top-level-loop.test.ts" stopped by vitest-watchdog at stage "interrupt"')
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
  expect(run.tests.get('spins.test.ts > spins past the run deadline')?.failureMessages[0]).toContain('from watchdog({ runTimeout }): the run deadline)')
  expect(run.tests.get('spins.test.ts > would start after the deadline')?.status).toBe('skipped')
  expect(run.output).toContain('vitest-watchdog: the run deadline (runTimeout) passed: tests still running then were stopped, and the tests after them did not run.')
})
