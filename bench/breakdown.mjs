// Figures for the per-worker and per-test targets, and where the overhead
// goes. Each file's tests stamp performance.now() of the worker process (ms
// since that process started):
//   startup  = first test's stamp (process start -> first test, import included)
//   per test = median gap between consecutive test starts
//   file switch = last test of one file -> first test of the next file (one
//              worker at a time: teardown of a worker + start of the next)
// for plain Vitest and the watchdog, alternating and rotating within rounds.
// Each watchdog figure is also taken minus plain in the same round (startup:
// the round's median over its files), and the targets are on those paired
// differences.
import { alternateWithStamps, configSource, dist, freshDir, log, writeTree } from './lib.mjs'

const VARIANTS = [
  { name: 'plain', config: 'vitest.plain.config.mjs' },
  { name: "watchdog leaks 'report'", config: 'vitest.report.config.mjs' },
  { name: "watchdog leaks 'off'", config: 'vitest.off.config.mjs' },
]

function suite(files, tests) {
  const out = {
    'vitest.plain.config.mjs': configSource({ test: { maxWorkers: 1, fileParallelism: false } }),
    'vitest.report.config.mjs': configSource({ plugin: "watchdog({ leaks: 'report' })", test: { maxWorkers: 1, fileParallelism: false } }),
    'vitest.off.config.mjs': configSource({ plugin: "watchdog({ leaks: 'off' })", test: { maxWorkers: 1, fileParallelism: false } }),
  }
  for (let f = 0; f < files; f++) {
    const body = [
      "import { appendFileSync } from 'node:fs'",
      "import { expect, test } from 'vitest'",
      'const out = process.env.BENCH_STAMPS!',
      'const stamps: string[] = []',
      // Buffered: the stamps themselves must not add a write per test.
      `const stamp = (label: string) => stamps.push(\`f${f}-\${label} \${performance.now()}\\nabs-f${f}-\${label} \${performance.timeOrigin + performance.now()}\`)`,
      '',
    ]
    for (let t = 0; t < tests; t++) body.push(`test('t${t}', () => {`, `  stamp('t${t}')`, `  expect(${t} + 1).toBe(${t + 1})`, '})')
    body.push(`test('flush', () => {`, `  stamp('t${tests}')`, "  appendFileSync(out, stamps.join('\\n') + '\\n')", '})', '')
    out[`b${f}.test.ts`] = body.join('\n')
  }
  return out
}

export async function breakdown({ quick }) {
  const files = quick ? 2 : 4
  const tests = 100
  const rounds = quick ? 1 : 3
  const dir = freshDir('breakdown')
  writeTree(dir, suite(files, tests))
  log(`breakdown: ${files} files x ${tests} trivial tests, ${rounds} rounds x ${VARIANTS.length} variants`)
  const startup = Object.fromEntries(VARIANTS.map((v) => [v.name, []]))
  const perTest = Object.fromEntries(VARIANTS.map((v) => [v.name, []]))
  const fileSwitch = Object.fromEntries(VARIANTS.map((v) => [v.name, []]))
  await alternateWithStamps({ dir, rounds, variants: VARIANTS }, (v, round, r, at) => {
    const gaps = []
    for (let f = 0; f < files; f++) {
      startup[v.name].push(at[`f${f}-t0`])
      for (let t = 1; t <= tests; t++) gaps.push(at[`f${f}-t${t}`] - at[`f${f}-t${t - 1}`])
    }
    perTest[v.name].push(dist(gaps).median)
    const spans = Array.from({ length: files }, (_, f) => [at[`abs-f${f}-t0`], at[`abs-f${f}-t${tests}`]]).sort((a, b) => a[0] - b[0])
    for (let i = 1; i < spans.length; i++) fileSwitch[v.name].push(spans[i][0] - spans[i - 1][1])
    log(`  round ${round} ${v.name}: startup ${startup[v.name].slice(-files).map((x) => x.toFixed(0)).join(' ')} ms; per test ${dist(gaps).median.toFixed(3)} ms; file switch ${fileSwitch[v.name].slice(-(files - 1)).map((x) => x.toFixed(0)).join(' ')} ms (${r.summary.line})`)
  })
  const median = (xs) => dist(xs).median
  /** Per round: the variant's figure minus plain's, `of` giving a round's figure from its samples. */
  const minusPlain = (by, perRound, of) =>
    Object.fromEntries(VARIANTS.filter((v) => v.name !== 'plain').map((v) => [v.name, dist(Array.from({ length: rounds }, (_, i) => of(by[v.name].slice(i * perRound, (i + 1) * perRound)) - of(by.plain.slice(i * perRound, (i + 1) * perRound))))]))
  return {
    files,
    tests,
    rounds,
    startupMs: Object.fromEntries(VARIANTS.map((v) => [v.name, dist(startup[v.name])])),
    perTestMs: Object.fromEntries(VARIANTS.map((v) => [v.name, dist(perTest[v.name])])),
    fileSwitchMs: Object.fromEntries(VARIANTS.map((v) => [v.name, dist(fileSwitch[v.name])])),
    startupMinusPlainMs: minusPlain(startup, files, median),
    perTestMinusPlainMs: minusPlain(perTest, 1, median),
    fileSwitchMinusPlainMs: minusPlain(fileSwitch, files - 1, median),
  }
}
