import { beforeAll, describe, expect, test } from 'vitest'
import { runWatch, type WatchRun } from './support/run-watch.js'

/** fixtures/watch's runTimeout (WATCHDOG_RUN_TIMEOUT). */
const RUN_TIMEOUT_MS = 4_000

/** What each scenario of fixtures/watch/watched.test.ts leaves in the report: [test, stage, reason], or nothing. */
const STOPS: Record<string, [string, string, string] | null> = {
  pass: null,
  interrupt: ['may hang', 'interrupt', 'interrupted'],
  kill: ['may hang', 'kill', 'unsafe-async-callback'],
  abort: ['may hang', 'abort', 'never-settled'],
  import: ['(file)', 'interrupt', 'interrupted'],
  crash: ['may hang', 'kill', 'crashed'],
  deadline: ['may hang', 'interrupt', 'interrupted'],
}
const SCENARIOS = ['pass', 'interrupt', 'pass', 'kill', 'abort', 'import', 'crash', 'deadline', 'pass']

/**
 * Under threads, a worker that kills its own process kills Vitest, and a
 * thread spinning in a timer callback is abandoned (it spins until the
 * process exits): those two stages run under forks only.
 */
const THREAD_SCENARIOS = ['pass', 'interrupt', 'abort', 'import', 'deadline', 'pass']

describe.each([
  ['forks', SCENARIOS],
  ['threads', THREAD_SCENARIOS],
])('watch mode (Vitest Node API, pool %s): a run per scenario, with hangs at each stage', (pool, scenarios) => {
  let runs: WatchRun[]
  let output: string
  beforeAll(async () => {
    ;({ runs, output } = await runWatch('watch', scenarios, { WATCHDOG_RUN_TIMEOUT: String(RUN_TIMEOUT_MS), WATCHDOG_POOL: pool }))
  })

  test('each run the report lists its own stop only, or none', () => {
    for (const run of runs) {
      const expected = STOPS[run.scenario]
      const hangs = (run.report?.hangs ?? []).map((h) => [h.test, h.stage, h.reason])
      expect(hangs, `run "${run.scenario}"\n${output}`).toEqual(expected ? [expected] : [])
      expect(run.report?.running, run.scenario).toEqual([])
    }
  })

  test("each run the report's finished section holds this run's tests once each", () => {
    for (const run of runs) {
      const finished = (run.report?.finished ?? []).map((f) => `${f.test}: ${f.state}`)
      if (run.scenario === 'import') expect(finished, run.scenario).toEqual([])
      // Past the run deadline the tests after the stopped one do not run.
      else expect(finished, run.scenario).toEqual(['passes first: passed', `may hang: ${run.scenario === 'pass' ? 'passed' : 'failed'}`, `passes last: ${run.scenario === 'deadline' ? 'skipped' : 'passed'}`])
    }
  })

  test("each run the summary names this run's stop only", () => {
    for (const run of runs) {
      const summary = run.output.match(/^vitest-watchdog: \d+ tests? stopped or crashed.*$/gm) ?? []
      expect(summary, `run "${run.scenario}":\n${run.output}`).toEqual(STOPS[run.scenario] ? [expect.stringMatching(/^vitest-watchdog: 1 test stopped or crashed/)] : [])
    }
  })

  test('runTimeout is counted from each run\'s start: runs long after the first one pass, and a spin is stopped at its own run\'s deadline', () => {
    const last = runs.at(-1)!
    // The session outlived one runTimeout: a deadline fixed at config load would have stopped everything since.
    expect(last.startedAt - runs[0]!.startedAt).toBeGreaterThan(RUN_TIMEOUT_MS)
    expect(last.output).not.toContain('run deadline')
    const deadline = runs.find((run) => run.scenario === 'deadline')!
    const hang = deadline.report!.hangs[0]!
    expect(hang.note).toContain('from watchdog({ runTimeout }): the run deadline')
    // The budget is what was left of this run's deadline when the test started: most of it.
    expect(hang.killAfter).toBeGreaterThan(RUN_TIMEOUT_MS / 2)
    expect(hang.killAfter).toBeLessThanOrEqual(RUN_TIMEOUT_MS)
    expect(deadline.output).toContain('vitest-watchdog: the run deadline (runTimeout) passed')
    expect(runs.filter((run) => run.output.includes('the run deadline (runTimeout) passed')).map((run) => run.scenario)).toEqual(['deadline'])
  })

  test('no process is left behind by any run: as many as after the first run, every time', () => {
    expect(runs.map((run) => run.processes)).toEqual(runs.map(() => runs[0]!.processes))
  })

  test('memory does not grow with reruns: the heap after the last run is within a generous bound of the first', () => {
    // Measured after a full GC. Vitest itself keeps a little per rerun (well
    // under 1% of the heap per run here); a session that kept each run's
    // workers, reports or watches would grow far past this bound.
    expect(runs.at(-1)!.heapUsed).toBeLessThan(runs[0]!.heapUsed * 1.5)
  })
})
