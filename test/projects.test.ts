import { resolve } from 'node:path'
import { describe, expect, test } from 'vitest'
import type { HangEntry, WatchdogReport } from '../src/index.js'
import { runFixture } from './support/run-fixture.js'

const repo = resolve(import.meta.dirname, '..')

/** fixtures/projects: one forks and one threads project over spin.test.ts, whose "spins" test spins, and crash.test.ts, which kills its worker process (forks only). */
const PROJECTS = ['on-forks', 'on-threads']
const STOPS = ['on-forks crash.test.ts > kills its worker process: kill', ...PROJECTS.map((p) => `${p} spin.test.ts > spins: interrupt`)].sort()
const FINISHED = PROJECTS.flatMap((p) => [`${p} kills its worker process: ${p === 'on-forks' ? 'failed' : 'passed'}`, `${p} passes: passed`, `${p} spins: failed`]).sort()

function stops(report: WatchdogReport | null | undefined): string[] {
  return (report?.hangs ?? []).map((h: HangEntry) => `${h.project} ${h.file} > ${h.test}: ${h.stage}`).sort()
}

function finished(report: WatchdogReport | null | undefined): string[] {
  return (report?.finished ?? []).map((f) => `${f.project} ${f.test}: ${f.state}`).sort()
}

describe.each([
  ['root', 'watchdog() in the root config only, inline projects without extends'],
  ['extends', 'watchdog() in the root config only, inline projects with extends: true'],
])('projects (%s): %s', (mode) => {
  test('every project is guarded; each entry, annotation and summary line names its project; one summary', async () => {
    const run = await runFixture('projects', {
      env: { WATCHDOG_PROJECTS: mode, GITHUB_ACTIONS: 'true', GITHUB_WORKSPACE: repo },
      args: ['--reporter=junit', '--outputFile.junit={dir}/junit.xml'],
      keep: ['junit.xml'],
    })
    expect(run.code, run.output).toBe(1)
    expect(stops(run.report)).toEqual(STOPS)
    expect(finished(run.report)).toEqual(FINISHED)
    expect(run.output.match(/^vitest-watchdog: \d+ tests? stopped or crashed.*$/gm), run.output).toEqual([expect.stringMatching(/^vitest-watchdog: 3 tests stopped or crashed/)])
    expect(run.output).toMatch(/^  crashed \(SIGKILL\) \[on-forks\] crash\.test\.ts > kills its worker process  after \d+ms/m)
    // JUnit names no project by itself: the stop's message does, for a stop in the worker and for a crash alike.
    const junit = run.kept['junit.xml'] ?? ''
    expect(junit).toContain('<failure message="[on-forks] The worker process died during this test (killed by SIGKILL)')
    for (const project of PROJECTS) {
      expect(run.output).toMatch(new RegExp(`^  interrupt \\[${project}\\] spin\\.test\\.ts > spins  after \\d+ms \\(killAfter 400ms\\)  at spin\\.test\\.ts:8:3$`, 'm'))
      expect(run.output).toContain(`::error file=fixtures/projects/spin.test.ts,line=8,col=3,title=vitest-watchdog%3A Test stopped at stage interrupt::[${project}] spins: stopped at stage "interrupt"`)
      expect(junit).toContain(`<failure message="[${project}] Test timed out after`)
      // The ladder's own lines (SLOW at half the budget) name it too.
      expect(run.output).toContain(`vitest-watchdog: [${project}] SLOW spin.test.ts > spins`)
    }
  })
})

test('projects (each): watchdog() in each project with its own outputFile: each report holds its own project only', async () => {
  const run = await runFixture('projects', { env: { WATCHDOG_PROJECTS: 'each' }, keep: PROJECTS.map((p) => `report-${p}.json`) })
  expect(run.code, run.output).toBe(1)
  for (const project of PROJECTS) {
    const report = JSON.parse(run.kept[`report-${project}.json`] ?? 'null') as WatchdogReport | null
    expect(stops(report), project).toEqual(STOPS.filter((stop) => stop.startsWith(`${project} `)))
    expect(finished(report), project).toEqual(FINISHED.filter((entry) => entry.startsWith(`${project} `)))
  }
  expect(run.output.match(/^vitest-watchdog: \d+ tests? stopped or crashed.*$/gm), run.output).toHaveLength(1)
})

test('projects (unguarded): a project from a config file without watchdog() fails the run at start, naming the project and the fix', async () => {
  const run = await runFixture('projects', { env: { WATCHDOG_PROJECTS: 'unguarded' } })
  expect(run.code).toBe(1)
  expect(run.output).toContain('WatchdogUnguardedProjectError: vitest-watchdog: project "plain" is not guarded: its config file vitest.plain.config.ts does not use the watchdog() plugin (while other projects of this run do). Add watchdog() to its plugins')
  expect(run.tests.size).toBe(0)
})

test('projects (files): watchdog() in the root config, and no project that uses it: the run fails before any test, naming the project', async () => {
  const run = await runFixture('projects', { env: { WATCHDOG_PROJECTS: 'files' } })
  expect(run.code).toBe(1)
  expect(run.output).toContain('WatchdogUnguardedProjectError: vitest-watchdog: project "plain" is not guarded: its config file vitest.plain.config.ts does not use the watchdog() plugin (the root config\'s watchdog() does not reach it).')
  expect(run.tests.size).toBe(0)
})
