// npm run demo: runs fixtures/demo under the watchdog, shows Vitest's own
// output (the stopped tests fail there, with a code frame at the stuck line),
// then the JSON report. Exits 0 when every stage showed up as expected.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '../fixtures/demo')
const vitest = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs')
const reportFile = join(root, 'watchdog-report.json')

try {
  console.log('vitest-watchdog demo: running fixtures/demo, where tests hang on purpose.\n')
  const run = spawnSync(process.execPath, [vitest, 'run'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, WATCHDOG_REPORT: reportFile },
    timeout: 120_000,
  })
  if (run.error) throw run.error
  const report = JSON.parse(readFileSync(reportFile, 'utf8'))
  console.log('\nThe JSON report (outputFile):\n')
  console.log(JSON.stringify(report, null, 2))
  const stages = new Set(report.hangs.map((h) => h.stage))
  const expected = ['abort', 'interrupt', 'kill']
  const missing = expected.filter((s) => !stages.has(s))
  if (missing.length > 0) {
    console.error(`\ndemo: expected stops at stages ${expected.join(', ')}; missing: ${missing.join(', ')}`)
    process.exit(1)
  }
  console.log(`\ndemo: every stage of the ladder stopped a test (${expected.join(', ')}), and the run finished.`)
} catch (error) {
  console.error('demo: failed:', error)
  process.exit(1)
}
