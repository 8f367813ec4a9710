// Drives one fixture through Vitest's Node API in watch mode, in a process of
// its own (so nothing of the outer Vitest leaks in), one run per scenario:
//   node watch-driver.mjs <fixture root> <results file> <scenario>...
// Before each run it writes the scenario to $WATCHDOG_RUN_DIR/scenario and
// prints a marker line (RUN_MARKER and the run's index) to stdout, where
// Vitest prints too; after each run it records the watchdog's report and the
// processes carrying this session's mark. The results go to <results file> as JSON.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createVitest } from 'vitest/node'

const RUN_MARKER = '::watch-driver run::'

const [root, resultsFile, ...scenarios] = process.argv.slice(2)
const runDir = process.env.WATCHDOG_RUN_DIR
const reportFile = process.env.WATCHDOG_REPORT
const mark = process.env.WATCHDOG_TEST_MARK


/** Processes carrying this run's mark, this driver excluded. */
function marked() {
  const pids = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1')
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').includes(`WATCHDOG_TEST_MARK=${mark}`)) pids.push(Number(entry))
    } catch {
      // Gone, or not ours to read.
    }
  }
  return pids
}

/** The marked processes once they stop changing: a worker may take a moment to exit after its run. Bounded. */
async function settledProcesses() {
  let last = marked()
  for (let attempt = 0; attempt < 30; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    const now = marked()
    if (now.length === last.length) return now
    last = now
  }
  return last
}

/** The heap in use once garbage is collected (the driver runs with --expose-gc): what the session keeps. */
function heapAfterGc() {
  globalThis.gc?.()
  return process.memoryUsage().heapUsed
}

const runs = []
const vitest = await createVitest('test', { root, watch: true, clearScreen: false, reporters: ['default'] }, {})
try {
  for (const [index, scenario] of scenarios.entries()) {
    writeFileSync(`${runDir}/scenario`, scenario)
    process.stdout.write(`${RUN_MARKER}${index}\n`)
    const startedAt = Date.now()
    if (index === 0) await vitest.start()
    else await vitest.rerunFiles()
    runs.push({
      scenario,
      startedAt,
      report: existsSync(reportFile) ? JSON.parse(readFileSync(reportFile, 'utf8')) : null,
      processes: (await settledProcesses()).length,
      heapUsed: heapAfterGc(),
    })
  }
} finally {
  await vitest.close()
  writeFileSync(resultsFile, JSON.stringify(runs))
}
process.exit(0)
