import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
import { expectStatus, hangOf, markedProcesses, outcomeOf, runFixture, stuckWithin, type FixtureRun } from './support/run-fixture.js'

// fixtures/browser-interrupt: Vitest's browser mode (Playwright, the system's
// headless Chromium). Each file hangs its page one way; the hung test must be
// stopped at the right stage, and the test after it must pass in the same page.
let run: FixtureRun
/** Chromium processes seen carrying the run's mark while it ran: run-fixture's check for leftovers covers the browser. */
let chromiumSeen = 0

/** Bounds the wait for the browser to start, on a loaded machine. */
const BROWSER_START_BOUND_MS = 60_000

beforeAll(async () => {
  run = await runFixture('browser-interrupt', {
    // Annotations as on GitHub Actions, paths relative to the repository (no job summary: none is set).
    env: { GITHUB_ACTIONS: 'true', GITHUB_WORKSPACE: resolve(import.meta.dirname, '..') },
    during: async (child) => {
      const mark = readFileSync(`/proc/${child.pid}/environ`, 'latin1').split('\0').find((entry) => entry.startsWith('WATCHDOG_TEST_MARK='))!.slice('WATCHDOG_TEST_MARK='.length)
      for (let waited = 0; waited < BROWSER_START_BOUND_MS && child.exitCode === null && chromiumSeen === 0; waited += 50) {
        chromiumSeen = markedProcesses({ WATCHDOG_TEST_MARK: mark }).filter((pid) => {
          try {
            return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('chromium')
          } catch {
            return false
          }
        }).length
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    },
  })
})

test("the browser carries the run's mark, so no chromium process may outlive the run", () => {
  expect(chromiumSeen).toBeGreaterThan(0)
})

// The stuck line comes from the page's CPU profile, a sample: what is
// guaranteed is one of the loop's lines.
const interrupted = [
  { file: 'sync-loop.test.ts', test: 'spins forever', lines: [10] },
  { file: 'catch-all.test.ts', test: 'swallows every error', lines: [4] },
  { file: 'microtask-loop.test.ts', test: 'awaits in a loop that never ends', lines: [4, 5, 6] },
]

describe.each(interrupted)('$file', ({ file, test: name, lines }) => {
  test('the hung test fails at stage interrupt, with the stuck line of the original source', () => {
    const outcome = outcomeOf(run, `${file} > ${name}`)
    expect(outcome.status).toBe('failed')
    expect(outcome.failureMessages[0]).toMatch(/^TestStoppedError: Test timed out after 400ms \(testTimeout\)\. vitest-watchdog interrupted it at /)
    const stuckLine = Number(new RegExp(`interrupted it at ${file.replaceAll('.', '\\.')}:(\\d+):`).exec(outcome.failureMessages[0] ?? "")?.[1])
    expect(lines).toContain(stuckLine)
  })

  test('the report holds the hang at the original line, with an original-coordinates stack', () => {
    const hang = hangOf(run, file, name)
    expect(hang).toMatchObject({ file, test: name, stage: 'interrupt', reason: 'interrupted', killAfter: 400, location: stuckWithin(file, lines) })
    expect(hang.elapsedMs).toBeGreaterThanOrEqual(400)
    expect(hang.stack.split('\n')[0]).toMatch(/^TestStoppedError: /)
    // The first frame, below the error's two lines of message.
    expect(hang.stack.split('\n').find((frame) => frame.trimStart().startsWith('at '))).toContain(`/fixtures/browser-interrupt/${file}:${hang.location?.line}:`)
    // Reported, and printed, without the watchdog's own page code, as Vitest leaves its own frames out.
    expect(hang.stack).not.toContain('dist/browser/page.js')
  })

  test('the next test of the file passes in the same page', () => {
    expectStatus(run, `${file} > runs next in the same page`, 'passed')
  })
})

test('a promise that never settles fails at stage abort, never-settled; one that listens to its signal, settled-after-abort', () => {
  expect(hangOf(run, 'never-settles.test.ts', 'waits on a promise that never settles')).toMatchObject({ stage: 'abort', reason: 'never-settled', killAfter: 400, location: null })
  expect(hangOf(run, 'never-settles.test.ts', 'settles when its signal aborts')).toMatchObject({ stage: 'abort', reason: 'settled-after-abort', killAfter: 400 })
  expectStatus(run, 'never-settles.test.ts > runs next in the same page', 'passed')
})

test('a hung beforeEach is interrupted at its line, fails its test, and the file goes on', () => {
  const hang = hangOf(run, 'hook.test.ts', 'with a hung beforeEach > never gets to run')
  expect(hang).toMatchObject({ stage: 'interrupt', reason: 'interrupted', killAfter: 400, location: { file: 'hook.test.ts', line: 5 }, what: 'Hook "beforeEach" of test "with a hung beforeEach > never gets to run"' })
  expectStatus(run, 'hook.test.ts > with a hung beforeEach > never gets to run', 'failed')
  expectStatus(run, 'hook.test.ts > runs next in the same page', 'passed')
})

test('the run ends with a failure exit code, a code frame at the stuck line, and every test accounted for', () => {
  expect(run.code).toBe(1)
  expect(run.output).toMatch(/❯ .*sync-loop\.test\.ts:10:\d+\n(.*\n){2}.*10\|\s+while \(true\) n\+\+/)
  expect(run.report?.hangs).toHaveLength(6)
  expect([...run.tests.values()].map((t) => t.status).sort()).toEqual([...Array(6).fill('failed'), ...Array(6).fill('passed')])
})

test('GitHub annotations point at the original stuck line, as in Node', () => {
  expect(run.output).toMatch(/::error file=fixtures\/browser-interrupt\/never-settles\.test\.ts,line=3,col=\d+,title=vitest-watchdog%3A Test stopped at stage abort::waits on a promise that never settles: stopped at stage "abort" after \d+ms \(killAfter 400ms\) \(no JavaScript was running\)/)
  expect(run.output).toMatch(/::error file=fixtures\/browser-interrupt\/sync-loop\.test\.ts,line=10,col=\d+,title=vitest-watchdog%3A Test stopped at stage interrupt::spins forever: stopped at stage "interrupt" after/)
  expect(run.output).toMatch(/::error file=fixtures\/browser-interrupt\/hook\.test\.ts,line=5,col=\d+,title=vitest-watchdog%3A Test stopped at stage interrupt::Hook "beforeEach" of test "with a hung beforeEach > never gets to run": stopped at stage "interrupt" after/)
})
