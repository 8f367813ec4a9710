// One worker's life, plain Vitest against the watchdog, on one clock:
//   node bench/timeline.mjs [--files=20] [--tests=1] [--rounds=5]
// Every Node process of the run loads timeline-preload.mjs, which stamps the
// main process's fork of each worker, the messages between them (pool
// requests, and each RPC call of the worker with its reply), the journal's
// opening, the test file's import and each test's start and end. Printed:
// the median, over the workers of all rounds, of each step's time since the
// worker was forked, per variant and the difference; and the time each
// worker spent waiting on RPC replies from the main process.
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { configSource, dist, fmt, freshDir, log, removeGenerated, runVitest, writeTree } from './lib.mjs'

const arg = (name, fallback) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback)
const FILES = arg('files', 20)
const TESTS = arg('tests', 1)
const ROUNDS = arg('rounds', 5)
const PRELOAD = join(import.meta.dirname, 'timeline-preload.mjs')

const VARIANTS = [
  { name: 'plain', config: 'vitest.plain.config.mjs' },
  { name: 'watchdog', config: 'vitest.watchdog.config.mjs' },
  // --with=NAME=VALUE: one more watchdog variant, run with that variable set (an experiment's switch).
  ...process.argv.filter((a) => a.startsWith('--with=')).map((a) => {
    const [name, ...value] = a.slice(7).split('=')
    return { name: `watchdog ${name}`, config: 'vitest.watchdog.config.mjs', env: { [name]: value.join('=') } }
  }),
]

function suite() {
  const test = { maxWorkers: 1, fileParallelism: false }
  const out = {
    'vitest.plain.config.mjs': configSource({ test }),
    'vitest.watchdog.config.mjs': configSource({ plugin: 'watchdog()', test }),
  }
  for (let f = 0; f < FILES; f++) {
    const body = ["import { expect, test } from 'vitest'", "globalThis.__timeline?.('file-import')", '']
    for (let t = 0; t < TESTS; t++) {
      body.push(`test('t${t}', () => {`, `  globalThis.__timeline?.('test-start', ${t})`, `  expect(${t} + 1).toBe(${t + 1})`, `  globalThis.__timeline?.('test-end', ${t})`, '})')
    }
    out[`t${f}.test.ts`] = body.join('\n') + '\n'
  }
  return out
}

/** The steps of one worker's life, each in ms since the main process forked it. */
function workerSteps(main, worker) {
  const fork = main.events.find(([, what, d]) => what === 'fork' && d.pid === worker.pid)?.[0]
  if (fork === undefined) return null
  const first = (pred) => worker.events.find(pred)?.[0]
  const last = (pred) => worker.events.findLast(pred)?.[0]
  const steps = {
    'process start': worker.origin,
    'bootstrap done': worker.bootstrapComplete,
    'preload ran': first(([, w]) => w === 'preload'),
    'start sent by main': main.events.find(([, what, d]) => what === 'to-worker' && d.pid === worker.pid && d.kind === 'request:start')?.[0],
    'start received': first(([, w, d]) => w === 'received' && d === 'request:start'),
    'started sent': first(([, w, d]) => w === 'sent' && d === 'response:started'),
    'run sent by main': main.events.find(([, what, d]) => what === 'to-worker' && d.pid === worker.pid && /^request:(run|collect)$/.test(d.kind))?.[0],
    'run received': first(([, w, d]) => w === 'received' && /^request:(run|collect)$/.test(d)),
    'journal opened': first(([, w, d]) => w === 'open' && d === 'journal.jsonl'),
    'file import': first(([, w]) => w === 'file-import'),
    'first test start': first(([, w]) => w === 'test-start'),
    'last test end': last(([, w]) => w === 'test-end'),
    'worker exit': first(([, w]) => w === 'exit'),
    'exit seen by main': main.events.find(([, what, d]) => what === 'worker-exit' && d.pid === worker.pid)?.[0],
  }
  const out = {}
  for (const [name, at] of Object.entries(steps)) if (at !== undefined) out[name] = at - fork
  // RPC: each call the worker made and the reply it got.
  const calls = new Map()
  let waited = 0
  let count = 0
  const byMethod = {}
  for (const [at, what, d] of worker.events) {
    if (what === 'sent' && d?.startsWith('rpc-call:')) calls.set(d.split('#')[1], { at, method: d.slice(9).split('#')[0] })
    if (what === 'received' && d?.startsWith('rpc-reply:')) {
      const call = calls.get(d.split('#')[1])
      if (!call) continue
      waited += at - call.at
      count++
      byMethod[call.method] = (byMethod[call.method] ?? 0) + (at - call.at)
    }
  }
  out['rpc calls answered'] = count
  out['rpc wait (sum)'] = waited
  for (const [method, ms] of Object.entries(byMethod)) out[`  rpc ${method}`] = ms
  return out
}

async function main() {
  const dir = freshDir('timeline')
  writeTree(dir, suite())
  log(`timeline: ${FILES} files x ${TESTS} tests, ${ROUNDS} rounds, one worker at a time`)
  const samples = Object.fromEntries(VARIANTS.map((v) => [v.name, {}]))
  for (let round = 0; round < ROUNDS; round++) {
    const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length])
    for (const v of order) {
      const out = join(dir, `stamps-${round}-${v.name}`)
      rmSync(out, { recursive: true, force: true })
      mkdirSync(out)
      const r = await runVitest({ cwd: dir, config: v.config, env: { ...(v.env ?? {}), NODE_OPTIONS: `--import=${PRELOAD}`, TIMELINE_DIR: out } })
      if (r.code !== 0) throw new Error(`${v.name} failed:\n${r.output}`)
      // A process killed while writing its record (Vitest ends workers with a signal) leaves it empty or cut.
      const records = readdirSync(out).flatMap((f) => {
        try {
          return [JSON.parse(readFileSync(join(out, f), 'utf8'))]
        } catch {
          return []
        }
      })
      const mainRecord = records.find((r) => r.role === 'main')
      for (const worker of records.filter((r) => r.role === 'worker')) {
        const steps = workerSteps(mainRecord, worker)
        if (!steps) continue
        for (const [name, ms] of Object.entries(steps)) (samples[v.name][name] ??= []).push(ms)
      }
      log(`  round ${round} ${v.name}: ${(r.wallMs / 1000).toFixed(2)} s wall, ${(r.cpuMs / 1000).toFixed(2)} s CPU (${r.summary.line})`)
    }
  }
  const names = [...new Set(VARIANTS.flatMap((v) => Object.keys(samples[v.name])))]
  const others = VARIANTS.slice(1)
  const rows = [
    `| step (ms since fork, median over workers) | plain | ${others.map((v) => `${v.name} | − plain`).join(' | ')} |`,
    `|---|---|${others.map(() => '---|---').join('|')}|`,
  ]
  for (const name of names) {
    const [p, ...w] = VARIANTS.map((v) => dist(samples[v.name][name] ?? []).median)
    rows.push(`| ${name} | ${fmt(p, 1)} | ${w.map((x) => `${fmt(x, 1)} | ${fmt(x - p, 1)}`).join(' | ')} |`)
  }
  process.stdout.write(rows.join('\n') + '\n')
}

try {
  await main()
} finally {
  removeGenerated()
}
