// Diagnostic: what a test that calls fetch() costs with leak tracking on.
// fetch() keeps a keep-alive socket and undici timers alive after the test;
// they are Node's, not the test's: the leak check drops them before anything
// else and never waits for them (src/worker/leaks/check.ts), and reports none.
// Cost per test = gap between consecutive test starts, per variant.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { stampHelpers } from './latency.mjs'
import { alternateWithStamps, configSource, dist, freshDir, log, writeTree } from './lib.mjs'

const VARIANTS = [
  { name: 'plain', config: 'vitest.plain.config.mjs' },
  { name: "watchdog leaks 'report'", config: 'vitest.report.config.mjs' },
  { name: "watchdog leaks 'off'", config: 'vitest.off.config.mjs' },
]

function suite(tests) {
  const body = [
    "import { afterAll, beforeAll, expect, test } from 'vitest'",
    "import { createServer, type Server } from 'node:http'",
    ...stampHelpers(),
    '',
    'let server: Server',
    'let base = ""',
    'beforeAll(async () => {',
    '  server = createServer((req, res) => res.end("ok"))',
    '  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))',
    '  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`',
    '})',
    'afterAll(async () => {',
    '  server.closeAllConnections()',
    '  await new Promise<void>((resolve) => server.close(() => resolve()))',
    '})',
    '',
  ]
  for (let t = 0; t < tests; t++) {
    body.push(`test('fetch ${t}', async () => {`, `  stamp('t${t}')`, '  const res = await fetch(base)', "  expect(await res.text()).toBe('ok')", '})')
  }
  body.push(`test('end', () => stamp('t${tests}'))`, '')
  return {
    'vitest.plain.config.mjs': configSource(),
    'vitest.report.config.mjs': configSource({ plugin: "watchdog({ leaks: 'report', outputFile: 'watchdog-report.json' })" }),
    'vitest.off.config.mjs': configSource({ plugin: "watchdog({ leaks: 'off' })" }),
    'fetch.test.ts': body.join('\n'),
  }
}

export async function leakSettle({ quick }) {
  const tests = quick ? 10 : 20
  const rounds = quick ? 1 : 3
  const dir = freshDir('leak-settle')
  writeTree(dir, suite(tests))
  log(`leak settle: ${tests} fetch tests, ${rounds} rounds x ${VARIANTS.length} variants`)
  const gaps = Object.fromEntries(VARIANTS.map((v) => [v.name, []]))
  let leaksReported = 0
  let internalLeaks = 0
  let sampleLeak = null
  await alternateWithStamps({ dir, rounds, variants: VARIANTS }, (v, round, r, at) => {
    // Skip the first gap (first fetch opens the connection).
    const own = []
    for (let t = 2; t <= tests; t++) own.push(at[`t${t}`] - at[`t${t - 1}`])
    gaps[v.name].push(dist(own).median)
    if (v.config === 'vitest.report.config.mjs') {
      const file = join(dir, 'watchdog-report.json')
      const report = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : { leaks: [] }
      leaksReported = Math.max(leaksReported, report.leaks.length)
      // Created inside Node itself (fetch's undici pool), not by the test's code.
      const internal = report.leaks.filter((l) => /^\s*at .*\(?node:internal\//.test(String(l.stack).split('\n')[1] ?? ''))
      internalLeaks = Math.max(internalLeaks, internal.length)
      sampleLeak ??= report.leaks[0] ? { type: report.leaks[0].type, location: report.leaks[0].location, stack: String(report.leaks[0].stack).split('\n').slice(0, 3).join(' | ') } : null
    }
    log(`  round ${round} ${v.name}: median gap between test starts ${dist(own).median.toFixed(1)} ms (${r.summary.line})`)
  })
  return {
    tests,
    rounds,
    gapMs: Object.fromEntries(VARIANTS.map((v) => [v.name, dist(gaps[v.name])])),
    leaksReportedPerRun: leaksReported,
    leaksInNodeInternalsPerRun: internalLeaks,
    sampleLeak,
  }
}
