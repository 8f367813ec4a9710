import { resolve } from 'node:path'
import { describe, expect, test } from 'vitest'
import type { HangEntry, WatchdogReport } from '../src/index.js'
import { runFixture } from './support/run-fixture.js'

const repo = resolve(import.meta.dirname, '..')

/** fixtures/projects: one forks and one threads project over spin.test.ts, whose "spins" test spins. */
const PROJECTS = ['on-forks', 'on-threads']

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
    const run = await runFixture('projects', { env: { WATCHDOG_PROJECTS: mode, GITHUB_ACTIONS: 'true', GITHUB_WORKSPACE: repo } })
    expect(run.code, run.output).toBe(1)
    expect(stops(run.report)).toEqual(PROJECTS.map((p) => `${p} spin.test.ts > spins: interrupt`))
    expect(finished(run.report)).toEqual(PROJECTS.flatMap((p) => [`${p} passes: passed`, `${p} spins: failed`]))
    expect(run.output.match(/^vitest-watchdog: \d+ tests? stopped or crashed.*$/gm), run.output).toEqual([expect.stringMatching(/^vitest-watchdog: 2 tests stopped or crashed/)])
    for (const project of PROJECTS) {
      expect(run.output).toMatch(new RegExp(`^  interrupt \\[${project}\\] spin\\.test\\.ts > spins  after \\d+ms \\(killAfter 400ms\\)  at spin\\.test\\.ts:8:3$`, 'm'))
      expect(run.output).toContain(`::error file=fixtures/projects/spin.test.ts,line=8,col=3,title=vitest-watchdog%3A Test stopped at stage interrupt::[${project}] spins: stopped at stage "interrupt"`)
    }
  })
})

test('projects (each): watchdog() in each project with its own outputFile: each report holds its own project only', async () => {
  const run = await runFixture('projects', { env: { WATCHDOG_PROJECTS: 'each' }, keep: PROJECTS.map((p) => `report-${p}.json`) })
  expect(run.code, run.output).toBe(1)
  for (const project of PROJECTS) {
    const report = JSON.parse(run.kept[`report-${project}.json`] ?? 'null') as WatchdogReport | null
    expect(stops(report), project).toEqual([`${project} spin.test.ts > spins: interrupt`])
    expect(finished(report), project).toEqual([`${project} passes: passed`, `${project} spins: failed`])
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
