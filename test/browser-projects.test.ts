import { expect, test } from 'vitest'
import { runFixture } from './support/run-fixture.js'

// A Node project and a browser project in one run (fixtures/browser-projects),
// both guarded by the root's watchdog(): each stop is interrupted at its line
// and names its project, in the report and in the test's error (JUnit and
// other reporters show only the error).
test('a Node project and a browser project in one run: both hangs interrupted at their line, each named by its project', async () => {
  const run = await runFixture('browser-projects')
  expect(run.code).toBe(1)
  const hangs = (run.report?.hangs ?? []).map((h) => [h.project, h.test, h.stage, h.location?.line]).sort()
  expect(hangs).toEqual([
    ['node', 'spins', 'interrupt', 4],
    ['page (chromium)', 'spins', 'interrupt', 4],
  ])
  expect(run.output).toMatch(/TestStoppedError: \[node\] Test timed out after \d+ms \(testTimeout\)\. vitest-watchdog interrupted it at/)
  expect(run.output).toMatch(/TestStoppedError: \[page \(chromium\)\] Test timed out after \d+ms \(testTimeout\)\. vitest-watchdog interrupted it at/)
  expect(run.output.match(/✓ runs next/g)).toHaveLength(2)
})
