// 4. Memory: resident set size of the test worker process at its last test,
// watchdog vs plain Vitest, paired per round. The watchdog has no thread of
// its own in the worker any more: what it adds is its runner, the leak
// patches and their registry, and the journal.
import { stampHelpers } from './latency.mjs'
import { alternateWithStamps, configSource, dist, freshDir, log, writeTree } from './lib.mjs'

const VARIANTS = [
  { name: 'plain', config: 'vitest.plain.config.mjs' },
  { name: "watchdog leaks 'report'", config: 'vitest.report.config.mjs' },
  { name: "watchdog leaks 'off'", config: 'vitest.off.config.mjs' },
]

function suite(tests) {
  const body = ["import { describe, expect, test } from 'vitest'", "import { join } from 'pathe'", ...stampHelpers(), '', "describe('work', () => {"]
  for (let t = 0; t < tests; t++) {
    body.push(
      `  test('case ${t}', async () => {`,
      `    const rows = Array.from({ length: 2000 }, (_, i) => ({ id: i, path: join('a', String(i), '${t}') }))`,
      `    expect(rows.filter((r) => r.id % 7 === 0)).toHaveLength(${Math.ceil(2000 / 7)})`,
      '    await new Promise((r) => setTimeout(r, 1))',
      '  })',
    )
  }
  body.push(
    "  test('last: records memory', () => {",
    '    const m = process.memoryUsage()',
    "    appendFileSync(out, `rss ${m.rss}\\nheapUsed ${m.heapUsed}\\nexternal ${m.external}\\n`)",
    '  })',
    '})',
    '',
  )
  return {
    'vitest.plain.config.mjs': configSource(),
    'vitest.report.config.mjs': configSource({ plugin: "watchdog({ leaks: 'report' })" }),
    'vitest.off.config.mjs': configSource({ plugin: "watchdog({ leaks: 'off' })" }),
    'memory.test.ts': body.join('\n'),
  }
}

export async function memory({ quick }) {
  const rounds = quick ? 1 : 7
  const tests = 25
  const dir = freshDir('memory')
  writeTree(dir, suite(tests))
  log(`memory: ${rounds} rounds x ${VARIANTS.length} variants`)
  const byVariant = Object.fromEntries(VARIANTS.map((v) => [v.name, []]))
  const problems = []
  await alternateWithStamps({ dir, rounds, variants: VARIANTS }, (v, round, r, at) => {
    if (r.code !== 0 || at.rss === undefined) problems.push(`round ${round} ${v.name}: exit ${r.code}, ${r.summary.line}`)
    byVariant[v.name].push({ round, rss: at.rss / 2 ** 20, heapUsed: at.heapUsed / 2 ** 20, external: at.external / 2 ** 20 })
    log(`  round ${round} ${v.name}: rss ${(at.rss / 2 ** 20).toFixed(1)} MB, heapUsed ${(at.heapUsed / 2 ** 20).toFixed(1)} MB`)
  })
  const plain = byVariant.plain
  const variants = VARIANTS.map((v) => ({
    name: v.name,
    rssMB: dist(byVariant[v.name].map((x) => x.rss)),
    heapUsedMB: dist(byVariant[v.name].map((x) => x.heapUsed)),
    // Paired with the plain run of the same round.
    rssDiffMB: dist(byVariant[v.name].map((x, i) => x.rss - plain[i].rss)),
    heapDiffMB: dist(byVariant[v.name].map((x, i) => x.heapUsed - plain[i].heapUsed)),
  }))
  return { rounds, tests: tests + 1, variants, problems }
}
