import { expect, test } from 'vitest'
import { hangOf, runFixture } from './support/run-fixture.js'

// How the watchdog's page code reaches each tester frame: the plugin's
// transformIndexHtml adds it to the tester HTML (no setup file), the user's
// own tester page included, and a frame where it did not load fails instead
// of running its tests unguarded.

test("a custom browser.testerHtmlPath gets the page code too: the page's own script runs, and a spinning test is interrupted", async () => {
  const run = await runFixture('browser-tester-html')
  expect(run.code).toBe(1)
  expect(run.tests.get('spin.test.ts > runs in the custom tester page, which loaded the page code itself (no setup file)')?.status).toBe('passed')
  expect(hangOf(run, 'spin.test.ts', 'spins forever')).toMatchObject({ stage: 'interrupt', reason: 'interrupted', location: { file: 'spin.test.ts', line: 12 } })
  expect(run.tests.get('spin.test.ts > runs next in the same page')?.status).toBe('passed')
  expect(run.report?.hangs).toHaveLength(1)
})

test('a tester frame whose page code did not load fails with a WatchdogPageCodeError, and its test never runs', async () => {
  const run = await runFixture('browser-no-page-code')
  expect(run.code).toBe(1)
  expect(run.output).toMatch(/WatchdogPageCodeError: vitest-watchdog: its page code \(\/@fs\/.*\/dist\/browser\/page\.js\) did not load in this tester frame, so the frame's tests would run unguarded\./)
  expect(run.tests.get('spin.test.ts > would spin forever unguarded')?.status).not.toBe('passed')
  // Only the tester HTML's way in fails like this (a setup file that does not load fails its import): Vitest took that way.
  expect(run.report?.hangs ?? []).toHaveLength(0)
})
