// npm run demo: runs fixtures/demo under the watchdog, shows Vitest's own
// output (the stopped tests fail there, with a code frame at the stuck line),
// then the JSON report. Exits 0 when every stage showed up as expected.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
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
  browserDemo()
} catch (error) {
  console.error('demo: failed:', error)
  process.exit(1)
}

/** Browser mode, when a Chromium is installed (nothing downloads one): abort and interrupt in a page. */
function browserDemo() {
  const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
  if (!existsSync(chromium)) {
    console.log(`\ndemo: no Chromium at ${chromium} (apt-get install chromium, or set CHROMIUM_PATH): browser mode skipped.`)
    return
  }
  console.log('\nvitest-watchdog demo, browser mode: fixtures/demo/browser in a headless Chromium.\n')
  const scratch = mkdtempSync(join(tmpdir(), 'watchdog-demo-'))
  try {
    const browserReport = join(scratch, 'watchdog-report.json')
    const run = spawnSync(process.execPath, [vitest, 'run', '--config', 'vitest.browser.config.ts'], {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, WATCHDOG_REPORT: browserReport },
      timeout: 120_000,
    })
    if (run.error) throw run.error
    const stages = new Set(JSON.parse(readFileSync(browserReport, 'utf8')).hangs.map((h) => h.stage))
    if (!stages.has('abort') || !stages.has('interrupt') || !stages.has('kill')) {
      console.error(`\ndemo: browser mode: expected stops at stages abort, interrupt and kill; got: ${[...stages].join(', ') || 'none'}`)
      process.exit(1)
    }
    console.log('\ndemo: browser mode: a hung test in the page was aborted, a frozen page interrupted (the next test ran in the same page), and a page blocked outside JavaScript closed (the rest of its file ran in a fresh page).')
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
}
