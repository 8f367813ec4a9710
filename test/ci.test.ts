import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { WatchdogReport } from '../src/index.js'
import { descendantsOf } from '../src/shared/process-tree.js'
import { hangOf, outcomeOf, runFixture, type FixtureRun } from './support/run-fixture.js'

const repo = resolve(import.meta.dirname, '..')
const scratch = mkdtempSync(join(tmpdir(), 'watchdog-ci-test-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

describe('fixtures/ci on GitHub Actions, with the junit reporter', () => {
  let run: FixtureRun & { kept: Record<string, string> }
  beforeAll(async () => {
    run = await runFixture('ci', {
      env: { GITHUB_ACTIONS: 'true', GITHUB_WORKSPACE: repo, GITHUB_STEP_SUMMARY: join(scratch, 'summary.md') },
      args: ['--reporter=junit', `--outputFile.junit=${join(scratch, 'junit.xml')}`],
    })
  })

  test('an ::error annotation at the hang line of each stopped test, paths relative to the repository', () => {
    expect(run.output).toContain('::error file=fixtures/ci/first.test.ts,line=5,col=3,title=vitest-watchdog%3A Test stopped at stage interrupt::spins: stopped at stage "interrupt" after')
    expect(run.output).toMatch(/::error file=fixtures\/ci\/second\.test\.ts,line=3,col=1,title=vitest-watchdog%3A Test stopped at stage abort::waits forever: stopped at stage "abort"/)
  })

  test('a ::warning at the creation line of each leak', () => {
    expect(run.output).toContain('::warning file=fixtures/ci/first.test.ts,line=9,col=3,title=vitest-watchdog%3A Interval leaked::leaks an interval: a setInterval still running')
  })

  test('a Markdown table of stopped tests and leaks in the job summary', () => {
    const summary = readFileSync(join(scratch, 'summary.md'), 'utf8')
    expect(summary).toContain('## vitest-watchdog')
    expect(summary).toContain('| first.test.ts > spins | interrupt |')
    expect(summary).toContain('| `first.test.ts:5` |')
    expect(summary).toContain('| first.test.ts > leaks an interval | Interval | `first.test.ts:9` |')
  })

  test('JUnit: a stopped test is a <failure> naming the stage and the hang location', () => {
    const junit = readFileSync(join(scratch, 'junit.xml'), 'utf8')
    expect(junit).toMatch(/<testcase classname="first\.test\.ts" name="spins"[^>]*>\s*<failure message="Test timed out after 400ms \(testTimeout\)\. vitest-watchdog interrupted it at first\.test\.ts:5:3\./)
  })

  test('SLOW: a test past half its budget is announced once, live', () => {
    expect(run.output.match(/vitest-watchdog: SLOW first\.test\.ts > is slow but within its budget \(\d\.\ds of its 2\.0s budget\)/g)).toHaveLength(1)
    expect(outcomeOf(run, 'first.test.ts > is slow but within its budget').status).toBe('passed')
  })

  test('SLOW: a test spinning from its first line is announced too (by the main process, which the spin does not block)', () => {
    expect(run.output.match(/vitest-watchdog: SLOW first\.test\.ts > spins \(\d\.\ds of its 0\.4s budget\)/g)).toHaveLength(1)
  })

  test('the report lists finished tests, and nothing is left running at the end', () => {
    expect(run.report?.finished).toHaveLength(4)
    expect(run.report?.running).toEqual([])
  })
})

test('shards: two blob shards merge into one watchdog report covering both', async () => {
  const blobs = join(scratch, 'blobs')
  for (const shard of ['1/2', '2/2']) {
    await runFixture('ci', { args: [`--shard=${shard}`, '--reporter=blob', `--outputFile.blob=${join(blobs, `blob-${shard.replace('/', '-')}.json`)}`] })
  }
  expect(readdirSync(blobs)).toHaveLength(2)
  const merged = await runFixture('ci', { args: [`--merge-reports=${blobs}`] })
  expect(merged.report?.hangs.map((h) => `${h.file} > ${h.test}: ${h.stage}`).sort()).toEqual([
    'first.test.ts > spins: interrupt',
    'second.test.ts > waits forever: abort',
  ])
  expect(merged.report?.leaks.map((l) => `${l.test}: ${l.type}`)).toEqual(['leaks an interval: Interval'])
  expect(merged.output).toContain('vitest-watchdog: 2 tests stopped or crashed')
})

/** The sigterm fixture's `sleep 1888` (no other fixture uses that duration) is in the process table. */
/**
 * `count` of the fixture's blocked sleeps are running below Vitest process
 * `vitest`, not in another run going on beside it.
 */
function sleeping(vitest: ChildProcess, count = 1): boolean {
  return descendantsOf(vitest.pid!).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'latin1').startsWith('/bin/sh\0-c\0sleep 1888')
    } catch {
      return false
    }
  }).length >= count
}

test('SIGTERM mid-run: every process is gone within 2 s, and the report parses with what finished and what was running', async () => {
  let report: WatchdogReport | undefined
  let goneWithin: number | undefined
  const run = await runFixture('sigterm', {
    during: async (child, reportFile) => {
      // Wait until the blocked test's sleep is running (bounded), then signal the main process.
      for (let i = 0; i < 300 && !sleeping(child); i++) await new Promise((r) => setTimeout(r, 100))
      const sent = Date.now()
      child.kill('SIGTERM')
      await new Promise((r) => child.once('close', r))
      report = JSON.parse(readFileSync(reportFile, 'utf8')) as WatchdogReport
      goneWithin = Date.now() - sent
    },
  })
  // runFixture has already failed the test if any marked process (the sleep included) survived.
  expect(run.signal === 'SIGTERM' || run.code !== 0).toBe(true)
  expect(goneWithin).toBeLessThan(2_000)
  expect(report?.finished).toEqual([{ file: 'long.test.ts', test: 'finishes before the signal', state: 'passed' }])
  expect(report?.running?.map((t) => t.test)).toEqual(['is blocked in a system call when the signal comes'])
})

test('SIGTERM mid-run with two projects: what only the journals tell (finished, running) names its project', async () => {
  let report: WatchdogReport | undefined
  await runFixture('sigterm', {
    env: { WATCHDOG_PROJECTS: 'two' },
    during: async (child, reportFile) => {
      for (let i = 0; i < 300 && !sleeping(child, 2); i++) await new Promise((r) => setTimeout(r, 100))
      child.kill('SIGTERM')
      await new Promise((r) => child.once('close', r))
      report = JSON.parse(readFileSync(reportFile, 'utf8')) as WatchdogReport
    },
  })
  expect(report?.finished?.map((t) => `${t.project} ${t.test}`).sort()).toEqual(['one finishes before the signal', 'two finishes before the signal'])
  expect(report?.running?.map((t) => `${t.project} ${t.test}`).sort()).toEqual(['one is blocked in a system call when the signal comes', 'two is blocked in a system call when the signal comes'])
})

test('runTimeout: the run is stopped through the ladder at its deadline, reported, and fails', async () => {
  const run = await runFixture('run-timeout')
  expect(run.code).toBe(1)
  expect(outcomeOf(run, 'slow.test.ts > passes quickly').status).toBe('passed')
  const hang = hangOf(run, 'slow.test.ts', 'would take a minute')
  expect(hang.stage).toBe('interrupt')
  expect(outcomeOf(run, 'slow.test.ts > would take a minute').failureMessages[0]).toContain('(watchdog({ runTimeout }): the run deadline)')
  expect(outcomeOf(run, 'slow.test.ts > never starts: the run deadline has passed').status).toBe('skipped')
  expect(run.output).toContain('vitest-watchdog: the run deadline (runTimeout) passed')
})
