// 2. Interrupt latency: how long after a spinning test's stop is due
// (start + killAfter + grace: the main process pauses the worker through the
// inspector then, see src/host/ladder/watch.ts) the next test of the file
// starts, in the same worker. Target: p50 <= 150 ms.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { configSource, dist, freshDir, log, quantile, readStamps, runVitest, withDistRetry, writeTree } from './lib.mjs'

export const LATENCY_KILL_AFTER = 100
export const LATENCY_GRACE = 100

export function stampHelpers() {
  return [
    "import { appendFileSync } from 'node:fs'",
    '',
    'const out = process.env.BENCH_STAMPS!',
    '/** Epoch ms with sub-ms precision: comparable across processes on this machine. */',
    'const stamp = (label: string) => appendFileSync(out, `${label} ${performance.timeOrigin + performance.now()}\\n`)',
  ]
}

/**
 * A test file of `pairs` hung tests, each followed by a test that stamps its
 * start; the hung test stamps its own start first (latency, recovery).
 */
export function hangPairs({ pairs, imports = [], name, hang }) {
  const body = ["import { test } from 'vitest'", ...imports, ...stampHelpers(), '']
  for (let i = 0; i < pairs; i++) {
    body.push(`test('${name} ${i}', () => {`, `  stamp('hang${i}')`, `  ${hang}`, '})', `test('next ${i}', () => {`, `  stamp('next${i}')`, '})')
  }
  body.push('')
  return body.join('\n')
}

function suite(pairs) {
  return {
    'vitest.config.mjs': configSource({ plugin: `watchdog({ killAfter: ${LATENCY_KILL_AFTER}, grace: ${LATENCY_GRACE}, outputFile: 'watchdog-report.json' })` }),
    'interrupt.test.ts': hangPairs({ pairs, name: 'spins', hang: 'while (true) {}' }),
  }
}

export async function latency({ quick }) {
  const pairs = quick ? 6 : 15
  const runs = quick ? 1 : 3
  const dir = freshDir('latency')
  writeTree(dir, suite(pairs))
  log(`latency: ${pairs} spinning tests per file, killAfter ${LATENCY_KILL_AFTER} ms, grace ${LATENCY_GRACE} ms, ${runs} runs`)
  const samples = []
  const problems = []
  const stages = {}
  for (let run = 0; run < runs; run++) {
    const stamps = join(dir, `stamps-${run}.txt`)
    const r = await withDistRetry(() => runVitest({ cwd: dir, config: 'vitest.config.mjs', env: { BENCH_STAMPS: stamps }, timeoutMs: 120_000 }))
    const at = Object.fromEntries(readStamps(stamps).map((s) => [s.label, s.value]))
    const own = []
    for (let i = 0; i < pairs; i++) {
      if (at[`hang${i}`] === undefined || at[`next${i}`] === undefined) {
        problems.push(`run ${run}: pair ${i} has no stamp`)
        continue
      }
      own.push(at[`next${i}`] - (at[`hang${i}`] + LATENCY_KILL_AFTER + LATENCY_GRACE))
    }
    samples.push(...own)
    const reportFile = join(dir, 'watchdog-report.json')
    const report = existsSync(reportFile) ? JSON.parse(readFileSync(reportFile, 'utf8')) : { hangs: [] }
    for (const h of report.hangs) {
      const key = `${h.stage} ${h.reason}`
      stages[key] = (stages[key] ?? 0) + 1
      if (h.stage !== 'interrupt') problems.push(`run ${run}: a spinning test was stopped at stage ${h.stage} (${h.reason}), not interrupt`)
    }
    if (r.summary.failed !== pairs || r.summary.passed !== pairs) problems.push(`run ${run}: expected ${pairs} failed + ${pairs} passed, got "${r.summary.line}" (exit ${r.code})`)
    if (r.leftovers.length) problems.push(`run ${run}: ${r.leftovers.length} processes left behind`)
    log(`  run ${run}: ${r.summary.line}; latency ms ${own.map((x) => x.toFixed(1)).join(' ')}`)
  }
  const d = dist(samples)
  return {
    pairs,
    runs,
    killAfter: LATENCY_KILL_AFTER,
    grace: LATENCY_GRACE,
    samples,
    latencyMs: { ...d, p50: d.median, p90: quantile(samples, 0.9) },
    stages,
    problems,
  }
}

