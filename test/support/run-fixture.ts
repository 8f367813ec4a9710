import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import type { WatchdogReport } from '../../src/index.js'
import { statFields } from '../../src/shared/process-tree.js'

const repo = resolve(import.meta.dirname, '../..')
/** The major version of the Vitest under test (4 on the main leg, 5 on the compat leg). */
export const vitestMajor = Number((createRequire(import.meta.url)('vitest/package.json') as { version: string }).version.split('.')[0])

const vitestBin = join(resolve(createRequire(import.meta.url).resolve('vitest/package.json'), '..'), 'vitest.mjs')

/** A real hang must not hang this suite: a fixture run that outlives this is killed and fails the test. */
const RUN_BOUND_MS = 90_000

export interface TestOutcome {
  status: string
  failureMessages: string[]
}

export interface FixtureRun {
  code: number | null
  signal: NodeJS.Signals | null
  output: string
  /** What Vitest wrote to stdout alone (a reporter's output, with `reporters`). */
  stdout: string
  /** What Vitest wrote to stderr alone. */
  stderr: string
  /** Keyed by "file.test.ts > describe > test". */
  tests: Map<string, TestOutcome>
  report: WatchdogReport | null
  /** The directory the run wrote into; removed after the run, so only its path is left. */
  dir: string
}

interface JsonResults {
  testResults: Array<{ name: string; message?: string; assertionResults: Array<{ ancestorTitles: string[]; title: string; status: string; failureMessages: string[] }> }>
}

export interface RunOptions {
  /** `{dir}` in an argument stands for the run's own directory (to write a file the test reads back with `keep`). */
  args?: string[]
  env?: Record<string, string>
  /** Files the test wants to read after the run, written by the fixture into the run's directory. */
  keep?: string[]
  /** `bench`: `vitest bench --run`, with Vitest's benchmark reporters (no test results); `run` otherwise. */
  command?: 'run' | 'bench'
  /** Vitest's console reporters (default: `['default']`); `[]` leaves only what the watchdog itself prints (and the JSON results). */
  reporters?: string[]
  /** Runs while Vitest runs, with its process and the report's path (to signal it mid-run, say). */
  during?: (child: ChildProcess, reportFile: string) => Promise<void>
  /** Reporter arguments instead of the default reporter and the JSON results file (`tests` is then empty). */
  reporterArgs?: string[]
}

/**
 * Runs the real Vitest CLI over `fixtures/<name>`, in its own process group and
 * marked by an environment variable that every descendant inherits. After the
 * run, any process still carrying the mark has leaked: it is killed and the
 * run fails, so no test of this suite can leave a process behind.
 */
/** Processes still carrying a run's mark, right now. */
export function markedProcesses(env: NodeJS.ProcessEnv | Record<string, string | undefined>): number[] {
  return env.WATCHDOG_TEST_MARK ? marked(env.WATCHDOG_TEST_MARK) : []
}

export async function runFixture(name: string, options: RunOptions = {}): Promise<FixtureRun & { kept: Record<string, string> }> {
  const root = join(repo, 'fixtures', name)
  const dir = mkdtempSync(join(tmpdir(), 'watchdog-test-'))
  const mark = randomUUID()
  const resultsFile = join(dir, 'results.json')
  const reportFile = join(dir, 'watchdog-report.json')
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    // The outer Vitest's variables would make the inner one think it is a worker.
    if (value !== undefined && !key.startsWith('VITEST') && key !== 'NODE_OPTIONS' && key !== 'TEST') env[key] = value
  }
  // TMPDIR: the watchdog's scratch directories land in the run's own directory, where leftovers can be seen.
  Object.assign(env, { NO_COLOR: '1', FORCE_COLOR: '0', CI: 'true', WATCHDOG_REPORT: reportFile, WATCHDOG_RUN_DIR: dir, TMPDIR: dir }, options.env, { WATCHDOG_TEST_MARK: mark })
  try {
    const reports = options.reporterArgs ?? [...(options.reporters ?? ['default']).map((reporter) => `--reporter=${reporter}`), '--reporter=json', `--outputFile.json=${resultsFile}`]
    const mode = options.command === 'bench' ? ['bench', '--run'] : ['run', ...reports]
    const child = spawn(process.execPath, [vitestBin, ...mode, ...(options.args ?? []).map((arg) => arg.replaceAll('{dir}', dir))], {
      cwd: root,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    let stdout = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk
      stdout += chunk
    })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk
      stderr += chunk
    })
    const during = options.during?.(child, reportFile)
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done, fail) => {
      const bound = setTimeout(() => {
        killGroup(child.pid!)
        fail(new Error(`vitest on fixtures/${name} did not finish within ${RUN_BOUND_MS}ms:\n${output}`))
      }, RUN_BOUND_MS)
      child.on('error', fail)
      child.on('close', (code, signal) => {
        clearTimeout(bound)
        done({ code, signal })
      })
    })
    await during
    const leaked = await leftovers(mark)
    if (leaked.length > 0) {
      for (const pid of leaked) trySignal(pid, 'SIGKILL')
      throw new Error(`vitest on fixtures/${name} left ${leaked.length} process(es) behind: ${leaked.join(', ')}\n${output}`)
    }
    const scratch = readdirSync(dir).filter((name) => name.startsWith('vitest-watchdog'))
    if (scratch.length > 0) throw new Error(`vitest on fixtures/${name} left temporary files behind: ${scratch.join(', ')}\n${output}`)
    const kept: Record<string, string> = {}
    for (const file of options.keep ?? []) {
      const path = join(dir, file)
      if (existsSync(path)) kept[file] = readFileSync(path, 'utf8')
    }
    return { code, signal, output, stdout, stderr, tests: readResults(resultsFile, root), report: readReport(reportFile), dir, kept }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function readResults(file: string, root: string): Map<string, TestOutcome> {
  const tests = new Map<string, TestOutcome>()
  if (!existsSync(file)) return tests
  const results = JSON.parse(readFileSync(file, 'utf8')) as JsonResults
  for (const module of results.testResults) {
    for (const test of module.assertionResults) {
      tests.set([relative(root, module.name), ...test.ancestorTitles, test.title].join(' > '), { status: test.status, failureMessages: test.failureMessages })
    }
  }
  return tests
}

function readReport(file: string): WatchdogReport | null {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as WatchdogReport) : null
}

/** Processes still carrying the run's mark. A process may take a moment to exit after its parent: wait a little. */
async function leftovers(mark: string): Promise<number[]> {
  let found: number[] = []
  for (let attempt = 0; attempt < 20; attempt++) {
    found = marked(mark)
    if (found.length === 0) return found
    await new Promise((r) => setTimeout(r, 100))
  }
  return found
}

function marked(mark: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, 'latin1')
      // A zombie has exited; only its parent's wait is missing. No state: gone meanwhile.
      const state = statFields(Number(entry))?.[0]
      if (state === undefined || state === 'Z') continue
      if (environ.includes(`WATCHDOG_TEST_MARK=${mark}`)) pids.push(Number(entry))
    } catch {
      // Gone, or not ours to read.
    }
  }
  return pids
}

function killGroup(pid: number): void {
  trySignal(-pid, 'SIGKILL')
}

function trySignal(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal)
  } catch {
    // Already gone.
  }
}

/** The hang entry of one test, or a failure that says which entries there were. */
export function hangOf(run: FixtureRun, file: string, test: string) {
  const hang = run.report?.hangs.find((h) => h.file === file && h.test === test)
  if (!hang) throw new Error(`no hang reported for ${file} > ${test}; report: ${JSON.stringify(run.report?.hangs.map((h) => `${h.file} > ${h.test}`))}\n${run.output}`)
  return hang
}

export function outcomeOf(run: FixtureRun, key: string): TestOutcome {
  const outcome = run.tests.get(key)
  if (!outcome) throw new Error(`no result for ${key}; results: ${JSON.stringify([...run.tests.keys()])}\n${run.output}`)
  return outcome
}

/** The status of one test; a mismatch fails with the fixture run's whole output, to see why. */
export function expectStatus(run: FixtureRun, key: string, status: string): void {
  const actual = outcomeOf(run, key).status
  if (actual !== status) throw new Error(`${key}: expected ${status}, got ${actual}\n--- fixture output ---\n${run.output}`)
}

/**
 * A stuck location that comes from sampling (the page's CPU profile) is
 * guaranteed to lie on one of the loop's lines, not on one exact line or column.
 */
export function stuckWithin(file: string, lines: readonly number[]) {
  return { file, line: expectOneOf(lines), column: expectPositive() }
}

function expectOneOf(values: readonly number[]) {
  return { asymmetricMatch: (actual: unknown) => values.includes(actual as number), toString: () => `one of ${values.join(', ')}` }
}

function expectPositive() {
  return { asymmetricMatch: (actual: unknown) => Number.isInteger(actual) && (actual as number) >= 1, toString: () => 'a 1-based column' }
}
