// Shared helpers for the benchmarks: spawning Vitest with a hard bound, making
// sure nothing it started survives, statistics, and the generated-suite folder.
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'

export const ROOT = resolve(import.meta.dirname, '..')
export const BENCH = join(ROOT, 'bench')
/**
 * Generated suites must live under the package so `import 'vitest-watchdog'`
 * self-resolves. One folder per bench process: a second bench started in the
 * same checkout must not delete the suites of one already running.
 */
export const GENERATED = join(BENCH, '.generated', `run-${process.pid}`)
export const RESULTS = join(BENCH, 'results')
export const VITEST = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs')
export const DIST_ENTRY = join(ROOT, 'dist', 'index.js')

/** Milliseconds since the epoch, sub-ms: the same clock the generated tests write. */
export const epochNow = () => performance.timeOrigin + performance.now()

export function log(...args) {
  process.stderr.write(`[bench] ${args.join(' ')}\n`)
}

// ---------------------------------------------------------------- files

export function writeTree(dir, files) {
  for (const [name, content] of Object.entries(files)) {
    const path = join(dir, name)
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, content)
  }
}

export function freshDir(name) {
  const dir = join(GENERATED, name)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  return dir
}

export function removeGenerated() {
  rmSync(GENERATED, { recursive: true, force: true })
  try {
    rmdirSync(dirname(GENERATED))
  } catch {}
}

/** Other bench runs alive now (any checkout): their load makes this run's figures noise. */
export function otherBenches() {
  const found = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')
      if (argv.some((a) => /(^|\/)bench\/run\.mjs$/.test(a)) && /node/.test(argv[0])) found.push(Number(entry))
    } catch {}
  }
  return found
}

/** Lines of numbers written by generated tests: "label value". */
export function readStamps(file) {
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [label, value] = line.split(' ')
      return { label, value: Number(value) }
    })
}

/** A vitest config file; `plugin` is the watchdog() call, or null for plain Vitest. */
export function configSource({ plugin = null, test = {} } = {}) {
  const lines = ["import { defineConfig } from 'vitest/config'"]
  if (plugin) lines.push("import { watchdog } from 'vitest-watchdog'")
  lines.push('', 'export default defineConfig({')
  if (plugin) lines.push(`  plugins: [${plugin}],`)
  lines.push(`  test: ${JSON.stringify({ include: ['*.test.ts'], ...test })},`)
  lines.push('})', '')
  return lines.join('\n')
}

// ---------------------------------------------------------------- processes

const live = new Set()
const MARK_KEY = 'WATCHDOG_BENCH_MARK'

/** Pids of every process whose environment carries `mark` (it is inherited by all descendants). */
function marked(mark) {
  const needle = `${MARK_KEY}=${mark}`
  const found = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(needle)) found.push(Number(entry))
    } catch {}
  }
  return found
}

function kill(pid, signal = 'SIGKILL') {
  try {
    process.kill(pid, signal)
  } catch {}
}

function killRun(run) {
  kill(-run.pid)
  for (const pid of marked(run.mark)) kill(pid)
}

async function sweep(run) {
  // Watchdog workers, and its reaper, lead their own process groups (see
  // ARCHITECTURE.md): the group of the CLI does not cover them, the mark does.
  // Give exiting ones a moment.
  let found = []
  for (let i = 0; i < 20; i++) {
    found = marked(run.mark)
    if (found.length === 0) return []
    await new Promise((r) => setTimeout(r, 100))
  }
  for (const pid of found) kill(pid)
  return found
}

let hooked = false
function hookExit() {
  if (hooked) return
  hooked = true
  const cleanup = () => {
    for (const run of live) killRun(run)
  }
  process.on('exit', cleanup)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      cleanup()
      removeGenerated()
      process.exit(130)
    })
  }
}

/**
 * Runs `vitest run` in `cwd`, in its own process group, under `bash -c` so
 * that `times` reports the CPU time of every reaped descendant. Killed, with
 * everything it spawned, after `timeoutMs`.
 */
export async function runVitest({ cwd, config, args = [], timeoutMs = 120_000, env: extraEnv = {} }) {
  hookExit()
  await waitForDist()
  const mark = randomUUID()
  const env = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('VITEST') && key !== 'NODE_OPTIONS' && key !== 'TEST') env[key] = value
  }
  Object.assign(env, { CI: 'true', NO_COLOR: '1', FORCE_COLOR: '0' }, extraEnv, { [MARK_KEY]: mark })
  const script = '"$@"; rc=$?; { echo __BENCH_TIMES__; times; } >&2; exit $rc'
  const argv = ['-c', script, 'bash', process.execPath, VITEST, 'run', '--config', config, ...args]
  const spawnedAt = epochNow()
  const t0 = performance.now()
  const child = spawn('bash', argv, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  const run = { pid: child.pid, mark }
  live.add(run)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c) => (stdout += c))
  child.stderr.on('data', (c) => (stderr += c))
  let timedOut = false
  const bound = setTimeout(() => {
    timedOut = true
    killRun(run)
  }, timeoutMs)
  const code = await new Promise((done) => {
    child.on('error', () => done(-1))
    child.on('close', (c) => done(c))
  })
  const wallMs = performance.now() - t0
  clearTimeout(bound)
  const leftovers = await sweep(run)
  live.delete(run)
  const [errText, timesText = ''] = stderr.split('__BENCH_TIMES__')
  const output = stdout + errText
  return { code, timedOut, wallMs, cpuMs: childCpu(timesText), spawnedAt, output, leftovers, summary: summary(output) }
}

/** Second line of bash `times`: user and system time of the children, e.g. "0m3.120s 0m0.410s". */
function childCpu(text) {
  const lines = text.trim().split('\n')
  const m = lines[1]?.match(/(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/)
  if (!m) return NaN
  return (Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4])) * 1000
}

function summary(output) {
  const tests = output.match(/Tests\s+([^\n]*)/)?.[1]?.trim() ?? ''
  const n = (word) => Number(tests.match(new RegExp(`(\\d+) ${word}`))?.[1] ?? 0)
  const leaks = Number(output.match(/vitest-watchdog: (\d+) leaked resource/)?.[1] ?? 0)
  return { line: tests, passed: n('passed'), failed: n('failed'), leaks }
}

/** dist/ may be rebuilt while the bench runs: wait for it (20 s at a time) rather than fail. */
export async function waitForDist() {
  for (let i = 0; i < 15 && !existsSync(DIST_ENTRY); i++) {
    log('dist/ is missing (being rebuilt?): waiting 20 s')
    await new Promise((r) => setTimeout(r, 20_000))
  }
  if (!existsSync(DIST_ENTRY)) throw new Error(`${DIST_ENTRY} is missing; the bench uses the built package`)
}

/** Runs `fn`; when the run looks broken by a dist/ rebuild in progress, waits 20 s and retries once. */
export async function withDistRetry(fn) {
  const result = await fn()
  if (result.code !== 0 && /dist\/|vitest-watchdog|Cannot find (module|package)/.test(result.output) && /ERR_MODULE_NOT_FOUND|Cannot find/.test(result.output)) {
    log('run failed to load vitest-watchdog (dist/ being rebuilt?): waiting 20 s and retrying')
    await new Promise((r) => setTimeout(r, 20_000))
    return fn()
  }
  return result
}

// ---------------------------------------------------------------- statistics

export function quantile(values, q) {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const pos = (s.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return s[lo] + (s[hi] - s[lo]) * (pos - lo)
}

export function dist(values) {
  const v = values.filter((x) => Number.isFinite(x))
  return { n: v.length, median: quantile(v, 0.5), min: Math.min(...v), max: Math.max(...v) }
}

export const fmt = (x, digits = 3) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a')
export const fmtDist = (d, digits = 3, unit = '') =>
  `${fmt(d.median, digits)}${unit} (min ${fmt(d.min, digits)}, max ${fmt(d.max, digits)}, n=${d.n})`

/**
 * Runs every variant once per round, the first variant rotating each round
 * (A B C, B C A, ...), each run with its own stamps file. `each` gets the
 * variant, the round, the run's result and the stamps by label.
 */
export async function alternateWithStamps({ dir, rounds, variants, timeoutMs = 60_000 }, each) {
  for (let round = 0; round < rounds; round++) {
    const order = variants.map((_, i) => variants[(i + round) % variants.length])
    for (const v of order) {
      const stamps = join(dir, `stamps-${round}-${variants.indexOf(v)}.txt`)
      const r = await withDistRetry(() => runVitest({ cwd: dir, config: v.config, args: v.args ?? [], env: { BENCH_STAMPS: stamps }, timeoutMs }))
      await each(v, round, r, Object.fromEntries(readStamps(stamps).map((s) => [s.label, s.value])))
    }
  }
}
