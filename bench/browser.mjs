#!/usr/bin/env node
// Browser mode: wall time of `vitest run` on a synthetic browser suite (the
// synthetic suite of overhead.mjs, run in headless Chromium through
// @vitest/browser-playwright) with the plugin, divided by the same run without
// it, in the same round; rounds alternate which goes first.
//   node bench/browser.mjs            5 rounds, 10 files x 25 tests
//   node bench/browser.mjs --quick    1 round, 3 files
// Uses the system's Chromium (/usr/bin/chromium, or CHROMIUM_PATH); never downloads one.
import { existsSync } from 'node:fs'
import { fmt, freshDir, log, quantile, removeGenerated, runVitest, withDistRetry, writeTree } from './lib.mjs'
import { syntheticSuite } from './overhead.mjs'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

function browserConfig(plugin) {
  return [
    "import { playwright } from '@vitest/browser-playwright'",
    "import { defineConfig } from 'vitest/config'",
    ...(plugin ? ["import { watchdog } from 'vitest-watchdog'"] : []),
    '',
    'export default defineConfig({',
    ...(plugin ? ['  plugins: [watchdog()],'] : []),
    '  test: {',
    "    include: ['*.test.ts'],",
    `    browser: { enabled: true, headless: true, screenshotFailures: false, instances: [{ browser: 'chromium' }], provider: playwright({ launchOptions: { executablePath: ${JSON.stringify(CHROMIUM)}, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'] } }) },`,
    '  },',
    '})',
    '',
  ].join('\n')
}

export async function browserOverhead({ quick }) {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`)
  const files = quick ? 3 : 10
  const rounds = quick ? 1 : 5
  const dir = freshDir('browser')
  const suite = syntheticSuite(files, 25)
  for (const name of Object.keys(suite)) if (name.startsWith('vitest.')) delete suite[name]
  writeTree(dir, { ...suite, 'vitest.plain.config.mjs': browserConfig(false), 'vitest.watchdog.config.mjs': browserConfig(true) })
  const variants = [{ name: 'plain browser', config: 'vitest.plain.config.mjs' }, { name: 'watchdog browser', config: 'vitest.watchdog.config.mjs' }]
  // A warm-up run of each: Vite's dependency optimisation happens once per config.
  for (const v of variants) await withDistRetry(() => runVitest({ cwd: dir, config: v.config }))
  const walls = { 'plain browser': [], 'watchdog browser': [] }
  const ratios = []
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? variants : [...variants].reverse()
    const got = {}
    for (const v of order) {
      const result = await withDistRetry(() => runVitest({ cwd: dir, config: v.config }))
      if (result.code !== 0 || result.summary.passed !== files * 25) throw new Error(`${v.name}: ${result.summary.line}\n${result.output}`)
      got[v.name] = result.wallMs
      walls[v.name].push(result.wallMs)
      log(`browser round ${round + 1}/${rounds} ${v.name}: ${fmt(result.wallMs)} ms`)
    }
    ratios.push(got['watchdog browser'] / got['plain browser'])
  }
  return { files, tests: files * 25, rounds, plainMedianMs: quantile(walls['plain browser'], 0.5), watchdogMedianMs: quantile(walls['watchdog browser'], 0.5), ratioMedian: quantile(ratios, 0.5), ratios }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const result = await browserOverhead({ quick: process.argv.includes('--quick') })
    console.log(JSON.stringify(result, null, 2))
    console.log(`\nbrowser mode: watchdog / plain wall, median of ${result.rounds} paired rounds: ${result.ratioMedian.toFixed(3)} (target <= 1.03: ${result.ratioMedian <= 1.03 ? 'met' : 'not met'})`)
  } finally {
    removeGenerated()
  }
}
