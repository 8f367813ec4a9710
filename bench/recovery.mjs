// 3. Kill recovery. Two ways a blocked test ends, each measured from the
// moment its stop is due (start + killAfter + grace) to the next test's start:
// - a test blocked on a child (execSync('sleep 30')): the child is killed, the
//   call returns, the file goes on in the same worker;
// - a test blocked where no child holds it (a FIFO read): the worker is killed
//   and the rest of the file runs in a fresh one.
// Compared, round by round, with plain Vitest moving to the next file
// (isolate: a fresh worker; last test of file 1 -> first test of file 2) and
// with plain Vitest starting cold (spawn of the CLI -> first test's start).
// Target: worker-kill recovery - plain worker switch of the same round
// <= 30 ms (median over rounds). The child-kill figure is context.
// grace is 500 ms: a thread that does not answer the inspector is declared
// blocked no sooner than 500 ms after its budget (RESPONSIVE_BOUND_MS in
// src/host/ladder/watch.ts), so with grace >= 500 the kill is due at exactly
// start + killAfter + grace, and nothing else needs adding to the formula.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { hangPairs, stampHelpers } from './latency.mjs'
import { configSource, dist, freshDir, log, readStamps, runVitest, withDistRetry, writeTree } from './lib.mjs'

export const RECOVERY_KILL_AFTER = 100
export const RECOVERY_GRACE = 500
/** Mirrors RESPONSIVE_BOUND_MS in src/host/ladder/watch.ts: a blocked thread is declared so no sooner than this after its budget. */
const RESPONSIVE_BOUND_MS = 500
/** When the kill is due, after the blocked test's start: killAfter + grace while grace >= 500 ms, as here. */
const KILL_DUE_MS = RECOVERY_KILL_AFTER + Math.max(RECOVERY_GRACE, RESPONSIVE_BOUND_MS)

function killSuite(pairs, kind) {
  const child = { imports: ["import { execSync } from 'node:child_process'"], name: 'blocks on a child', hang: "execSync('sleep 30')" }
  const fifo = {
    imports: ["import { execFileSync } from 'node:child_process'", "import { readFileSync } from 'node:fs'"],
    name: 'blocks reading a FIFO',
    hang: "const fifo = `${process.env.BENCH_STAMPS}.${process.pid}.${Math.random()}.fifo`; execFileSync('mkfifo', [fifo]); readFileSync(fifo)",
  }
  return {
    'vitest.config.mjs': configSource({ plugin: `watchdog({ killAfter: ${RECOVERY_KILL_AFTER}, grace: ${RECOVERY_GRACE}, outputFile: 'watchdog-report.json' })` }),
    'kill.test.ts': hangPairs({ pairs, ...(kind === 'child' ? child : fifo) }),
  }
}

/** Two trivial files, one worker at a time, so the second file's worker start is visible. */
function coldSuite() {
  const file = (name) =>
    ["import { expect, test } from 'vitest'", ...stampHelpers(), '', `test('${name} first', () => {`, `  stamp('${name}-start')`, '  expect(1 + 1).toBe(2)', '})', `test('${name} last', () => {`, '  expect(2 + 2).toBe(4)', `  stamp('${name}-end')`, '})', ''].join('\n')
  return {
    'vitest.config.mjs': configSource({ test: { maxWorkers: 1, fileParallelism: false } }),
    'a.test.ts': file('a'),
    'b.test.ts': file('b'),
  }
}

export async function recovery({ quick }) {
  const pairs = quick ? 2 : 4
  const rounds = quick ? 2 : 4
  const dirs = { child: freshDir('recovery-child'), worker: freshDir('recovery-worker') }
  const coldDir = freshDir('recovery-cold')
  writeTree(dirs.child, killSuite(pairs, 'child'))
  writeTree(dirs.worker, killSuite(pairs, 'fifo'))
  writeTree(coldDir, coldSuite())
  log(`recovery: ${pairs} kills per run, ${rounds} rounds of (child-kill run, worker-kill run, plain cold run)`)
  const recoveries = { child: [], worker: [] }
  const colds = []
  const switches = []
  const perRound = []
  const problems = []
  const stages = {}
  for (let round = 0; round < rounds; round++) {
    const kinds = ['child', 'worker', 'cold']
    const order = kinds.map((_, i) => kinds[(i + round) % kinds.length])
    const own = { recovery: { child: [], worker: [] }, cold: NaN, fileSwitch: NaN }
    for (const which of order) {
      if (which !== 'cold') {
        const killDir = dirs[which]
        const stamps = join(killDir, `stamps-${round}.txt`)
        const r = await withDistRetry(() => runVitest({ cwd: killDir, config: 'vitest.config.mjs', env: { BENCH_STAMPS: stamps }, timeoutMs: 120_000 }))
        const at = Object.fromEntries(readStamps(stamps).map((s) => [s.label, s.value]))
        for (let i = 0; i < pairs; i++) {
          if (at[`hang${i}`] === undefined || at[`next${i}`] === undefined) {
            problems.push(`round ${round}: pair ${i} has no stamp`)
            continue
          }
          own.recovery[which].push(at[`next${i}`] - (at[`hang${i}`] + KILL_DUE_MS))
        }
        const reportFile = join(killDir, 'watchdog-report.json')
        const report = existsSync(reportFile) ? JSON.parse(readFileSync(reportFile, 'utf8')) : { hangs: [] }
        for (const h of report.hangs) {
          const key = `${which}: ${h.stage} ${h.reason}`
          stages[key] = (stages[key] ?? 0) + 1
          const expected = which === 'child' ? 'child-killed' : 'blocked-outside-js'
          if (h.stage !== 'kill' || h.reason !== expected) problems.push(`round ${round} ${which}: a blocked test was stopped at stage ${h.stage} (${h.reason}), not kill (${expected})`)
        }
        if (r.summary.failed !== pairs || r.summary.passed !== pairs) problems.push(`round ${round}: expected ${pairs} failed + ${pairs} passed, got "${r.summary.line}" (exit ${r.code})`)
        if (r.leftovers.length) problems.push(`round ${round}: ${r.leftovers.length} processes left behind (sleep 30 not killed?)`)
        log(`  round ${round} ${which} kill: ${r.summary.line}; recovery ms ${own.recovery[which].map((x) => x.toFixed(0)).join(' ')}`)
      } else {
        const stamps = join(coldDir, `stamps-${round}.txt`)
        const r = await withDistRetry(() => runVitest({ cwd: coldDir, config: 'vitest.config.mjs', env: { BENCH_STAMPS: stamps }, timeoutMs: 60_000 }))
        const at = Object.fromEntries(readStamps(stamps).map((s) => [s.label, s.value]))
        const [first, second] = at['a-start'] < at['b-start'] ? ['a', 'b'] : ['b', 'a']
        own.cold = at[`${first}-start`] - r.spawnedAt
        own.fileSwitch = at[`${second}-start`] - at[`${first}-end`]
        if (r.code !== 0) problems.push(`round ${round}: plain cold run exited ${r.code}`)
        log(`  round ${round} cold: spawn -> first test ${own.cold.toFixed(0)} ms; file switch ${own.fileSwitch.toFixed(0)} ms`)
      }
    }
    recoveries.child.push(...own.recovery.child)
    recoveries.worker.push(...own.recovery.worker)
    colds.push(own.cold)
    switches.push(own.fileSwitch)
    perRound.push(own)
  }
  const median = (xs) => dist(xs).median
  return {
    pairs,
    rounds,
    killAfter: RECOVERY_KILL_AFTER,
    grace: RECOVERY_GRACE,
    childRecoveryMs: dist(recoveries.child),
    workerRecoveryMs: dist(recoveries.worker),
    coldStartMs: dist(colds),
    fileSwitchMs: dist(switches),
    // Each round's median worker-kill recovery minus that round's plain file switch.
    workerMinusSwitchMs: dist(perRound.map((r) => median(r.recovery.worker) - r.fileSwitch)),
    ratioToCold: dist(perRound.map((r) => median(r.recovery.worker) / r.cold)),
    perRound,
    stages,
    problems,
  }
}
