import { beforeAll, expect, test } from 'vitest'
import { runWatch, type WatchRun } from './support/run-watch.js'

// Browser mode in watch mode (Vitest's Node API, fixtures/browser-watch): one
// page for the session, a run per scenario, a hang at each stage. The page's
// CDP session, its profile and a page closed at stage kill must not leak into
// the next run.

/** fixtures/browser-watch's runTimeout (WATCHDOG_RUN_TIMEOUT): room for the first run's cold dependency scan on a loaded machine. */
const RUN_TIMEOUT_MS = 15_000

const STOPS: Record<string, [string, string, string] | null> = {
  pass: null,
  interrupt: ['may hang', 'interrupt', 'interrupted'],
  kill: ['may hang', 'kill', 'blocked-outside-js'],
  abort: ['may hang', 'abort', 'never-settled'],
  import: ['(file)', 'interrupt', 'interrupted'],
  deadline: ['may hang', 'interrupt', 'interrupted'],
}
const SCENARIOS = ['pass', 'interrupt', 'kill', 'pass', 'abort', 'import', 'deadline', 'pass']

let runs: WatchRun[]
let output: string
beforeAll(async () => {
  ;({ runs, output } = await runWatch('browser-watch', SCENARIOS, { WATCHDOG_RUN_TIMEOUT: String(RUN_TIMEOUT_MS) }))
})

test('each run the report lists its own stop only, or none', () => {
  for (const run of runs) {
    const hangs = (run.report?.hangs ?? []).map((h) => [h.test, h.stage, h.reason])
    expect(hangs, `run "${run.scenario}"\n${output}`).toEqual(STOPS[run.scenario] ? [STOPS[run.scenario]] : [])
    expect(run.report?.running, run.scenario).toEqual([])
  }
})

test("each run the report's finished section holds this run's tests once each, a killed page's file included", () => {
  for (const run of runs) {
    const finished = (run.report?.finished ?? []).map((f) => `${f.test}: ${f.state}`)
    if (run.scenario === 'import') expect(finished, run.scenario).toEqual([])
    else expect(finished, run.scenario).toEqual(['passes first: passed', `may hang: ${run.scenario === 'pass' ? 'passed' : 'failed'}`, `passes last: ${run.scenario === 'deadline' ? 'skipped' : 'passed'}`])
  }
})

test('the interrupted line is the stuck one in every run, also after the page was replaced', () => {
  for (const run of runs.filter((r) => r.scenario === 'interrupt' || r.scenario === 'deadline')) {
    expect(run.report?.hangs[0]?.location, run.scenario).toMatchObject({ file: 'watched.test.ts', line: 20 })
  }
})

test('no process is left behind by any run: as many as after the first run, every time', () => {
  expect(runs.map((run) => run.processes)).toEqual(runs.map(() => runs[0]!.processes))
})
