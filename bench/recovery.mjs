// 3. Kill recovery: a test blocked in a system call (execSync('sleep 30'))
// cannot be paused, so the helper kills the worker and the rest of the file
// runs in a fresh one. Recovery = next test's start - the moment of the kill
// (start + killAfter + grace + 200 ms idle margin + grace waited for a pause
// that never comes). Compared, round by round, with plain Vitest starting
// cold (spawn of the CLI -> first test's start) and with plain Vitest moving
// to the next file (isolate: a fresh worker; last test of file 1 -> first
// test of file 2).
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { hangPairs, stampHelpers } from './latency.mjs'
import { configSource, dist, freshDir, log, readStamps, runVitest, withDistRetry, writeTree } from './lib.mjs'

const KILL_AFTER = 100
const GRACE = 100
const IDLE_MARGIN = 200

function killSuite(pairs) {
  return {
    'vitest.config.mjs': configSource({ plugin: `watchdog({ killAfter: ${KILL_AFTER}, grace: ${GRACE}, outputFile: 'watchdog-report.json' })` }),
    'kill.test.ts': hangPairs({ pairs, imports: ["import { execSync } from 'node:child_process'"], name: 'blocks in a system call', hang: "execSync('sleep 30')" }),
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
  const killDir = freshDir('recovery-kill')
  const coldDir = freshDir('recovery-cold')
  writeTree(killDir, killSuite(pairs))
  writeTree(coldDir, coldSuite())
  log(`recovery: ${pairs} kills per run, ${rounds} rounds of (kill run, plain cold run)`)
  const recoveries = []
  const colds = []
  const switches = []
  const perRound = []
  const problems = []
  const stages = {}
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? ['kill', 'cold'] : ['cold', 'kill']
    const own = { recovery: [], cold: NaN, fileSwitch: NaN }
    for (const which of order) {
      if (which === 'kill') {
        const stamps = join(killDir, `stamps-${round}.txt`)
        const r = await withDistRetry(() => runVitest({ cwd: killDir, config: 'vitest.config.mjs', env: { BENCH_STAMPS: stamps }, timeoutMs: 120_000 }))
        const at = Object.fromEntries(readStamps(stamps).map((s) => [s.label, s.value]))
        for (let i = 0; i < pairs; i++) {
          if (at[`hang${i}`] === undefined || at[`next${i}`] === undefined) {
            problems.push(`round ${round}: pair ${i} has no stamp`)
            continue
          }
          own.recovery.push(at[`next${i}`] - (at[`hang${i}`] + KILL_AFTER + GRACE + IDLE_MARGIN + GRACE))
        }
        const reportFile = join(killDir, 'watchdog-report.json')
        const report = existsSync(reportFile) ? JSON.parse(readFileSync(reportFile, 'utf8')) : { hangs: [] }
        for (const h of report.hangs) stages[h.stage] = (stages[h.stage] ?? 0) + 1
        if (r.summary.failed !== pairs || r.summary.passed !== pairs) problems.push(`round ${round}: expected ${pairs} failed + ${pairs} passed, got "${r.summary.line}" (exit ${r.code})`)
        if (r.leftovers.length) problems.push(`round ${round}: ${r.leftovers.length} processes left behind (sleep 30 not killed?)`)
        log(`  round ${round} kill: ${r.summary.line}; recovery ms ${own.recovery.map((x) => x.toFixed(0)).join(' ')}`)
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
    recoveries.push(...own.recovery)
    colds.push(own.cold)
    switches.push(own.fileSwitch)
    perRound.push(own)
  }
  const median = (xs) => dist(xs).median
  return {
    pairs,
    rounds,
    recoveryMs: dist(recoveries),
    coldStartMs: dist(colds),
    fileSwitchMs: dist(switches),
    // Each round's median recovery over that round's cold start / file switch.
    ratioToCold: dist(perRound.map((r) => median(r.recovery) / r.cold)),
    ratioToFileSwitch: dist(perRound.map((r) => median(r.recovery) / r.fileSwitch)),
    perRound,
    stages,
    problems,
  }
}
