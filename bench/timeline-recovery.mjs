// The kill-recovery path on one clock, against plain Vitest's worker switch:
//   node bench/timeline-recovery.mjs [--pairs=4] [--rounds=3]
// Every Node process loads timeline-preload.mjs (fork, pool messages, RPC
// calls and replies, journal opening, test starts). The watchdog run is
// recovery.mjs's FIFO suite: per kill, each step is printed in ms since the
// kill was due (blocked test's start + killAfter + max(grace, 500)); the
// plain run is two one-test files, each step in ms since file 1's test ended.
// Main-process steps of the watchdog's own can be stamped by hand while
// profiling: `globalThis.__timeline?.('name')` (the preload defines it).
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { dist, fmt, freshDir, log, removeGenerated, runVitest, writeTree, configSource } from './lib.mjs'
import { RECOVERY_GRACE, RECOVERY_KILL_AFTER } from './recovery.mjs'

const arg = (name, fallback) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback)
const PAIRS = arg('pairs', 4)
const ROUNDS = arg('rounds', 3)
const PRELOAD = join(import.meta.dirname, 'timeline-preload.mjs')
const KILL_DUE_MS = RECOVERY_KILL_AFTER + Math.max(RECOVERY_GRACE, 500)

function suites() {
  const t = (s) => `globalThis.__timeline?.(${JSON.stringify(s)})`
  const kill = ["import { test } from 'vitest'", "import { execFileSync } from 'node:child_process'", "import { readFileSync } from 'node:fs'", t('file-import'), '']
  for (let i = 0; i < PAIRS; i++) {
    kill.push(`test('blocks ${i}', () => {`, `  ${t(`hang${i}`)}; globalThis.__timelineSave?.()`, "  const fifo = `${process.env.TIMELINE_DIR}/${process.pid}.${Math.random()}.fifo`; execFileSync('mkfifo', [fifo]); readFileSync(fifo)", '})')
    kill.push(`test('next ${i}', () => {`, `  ${t(`next${i}`)}`, '})')
  }
  const file = (name) => ["import { test } from 'vitest'", t('file-import'), `test('${name} first', () => { ${t(`${name}-start`)} })`, `test('${name} last', () => { ${t(`${name}-end`)} })`, ''].join('\n')
  return {
    'vitest.kill.config.mjs': configSource({ plugin: `watchdog({ killAfter: ${RECOVERY_KILL_AFTER}, grace: ${RECOVERY_GRACE} })`, test: { include: ['kill.test.ts'] } }),
    'vitest.plain.config.mjs': configSource({ test: { include: ['a.test.ts', 'b.test.ts'], maxWorkers: 1, fileParallelism: false } }),
    'kill.test.ts': kill.join('\n') + '\n',
    'a.test.ts': file('a'),
    'b.test.ts': file('b'),
  }
}

/** Every stamp of the run as [at, 'process: what detail'], sorted. */
function merged(records) {
  const main = records.find((r) => r.role === 'main')
  const out = []
  for (const [at, what, d] of main.events) {
    if (what === 'to-worker' || what === 'from-worker') {
      if (/^rpc-/.test(d.kind)) continue
      out.push([at, `main: ${what} ${d.kind}`])
    } else out.push([at, `main: ${what}${d?.pid ? '' : d ? ` ${JSON.stringify(d)}` : ''}`])
  }
  for (const w of records.filter((r) => r.role === 'worker')) {
    out.push([w.origin, 'worker: process start'], [w.bootstrapComplete, 'worker: bootstrap done'])
    const calls = new Map()
    for (const [at, what, d] of w.events) {
      if (what === 'sent' && d?.startsWith('rpc-call:')) { calls.set(d.split('#')[1], { at, m: d.slice(9).split('#')[0] }); continue }
      if (what === 'received' && d?.startsWith('rpc-reply:')) {
        const c = calls.get(d.split('#')[1])
        out.push([at, `worker: rpc ${c?.m} (${fmt(at - (c?.at ?? at), 1)} ms)`])
        continue
      }
      out.push([at, `worker: ${what}${d ? ` ${d}` : ''}`])
    }
  }
  return out.sort((a, b) => a[0] - b[0])
}

async function main() {
  const dir = freshDir('timeline-recovery')
  writeTree(dir, suites())
  const rows = { kill: {}, plain: {} }
  const add = (kind, label, ms) => (rows[kind][label] ??= []).push(ms)
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of round % 2 ? ['plain', 'kill'] : ['kill', 'plain']) {
      const out = join(dir, `stamps-${round}-${kind}`)
      rmSync(out, { recursive: true, force: true })
      mkdirSync(out)
      const r = await runVitest({ cwd: dir, config: `vitest.${kind}.config.mjs`, env: { NODE_OPTIONS: `--import=${PRELOAD}`, TIMELINE_DIR: out } })
      const records = readdirSync(out).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(join(out, f), 'utf8')))
      const events = merged(records)
      const at = (label) => events.find(([, w]) => w === `worker: ${label}`)?.[0]
      const windows = []
      if (kind === 'kill') {
        for (let i = 0; i < PAIRS; i++) if (at(`hang${i}`) !== undefined && at(`next${i}`) !== undefined) windows.push([at(`hang${i}`) + KILL_DUE_MS, at(`next${i}`)])
      } else windows.push([at('a-end'), at('b-start')])
      for (const [from, to] of windows) {
        // Each label's first occurrence in the window (a repeated label gets #n).
        const seen = {}
        for (const [t, w] of events) {
          if (t < from - 1 || t > to + 0.001) continue
          const label = w.replace(/ \([\d.]+ ms\)$/, '')
          seen[label] = (seen[label] ?? 0) + 1
          add(kind, seen[label] > 1 ? `${label} #${seen[label]}` : label, t - from)
        }
        if (round === 0 && from === windows[0][0]) {
          log(`${kind}, round 0, first window:`)
          for (const [t, w] of events) if (t >= from - 1 && t <= to + 0.001) log(`  ${fmt(t - from, 1).padStart(7)}  ${w}`)
        }
      }
      if (!r.summary.line) log(r.output.slice(-3000))
      log(`round ${round} ${kind}: ${r.summary.line}; windows ${windows.map(([a, b]) => fmt(b - a, 0)).join(' ')}`)
    }
  }
  for (const kind of ['kill', 'plain']) {
    const lines = Object.entries(rows[kind]).map(([label, ms]) => [dist(ms).median, label, ms.length]).sort((a, b) => a[0] - b[0])
    process.stdout.write(`\n${kind === 'kill' ? 'kill recovery: ms since the kill was due' : "plain switch: ms since file 1's last test ended"} (median, n)\n`)
    for (const [m, label, n] of lines) process.stdout.write(`${fmt(m, 1).padStart(8)}  ${label} (${n})\n`)
  }
}

try {
  await main()
} finally {
  removeGenerated()
}
