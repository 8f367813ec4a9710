#!/usr/bin/env node
// Runs every benchmark and prints a Markdown summary.
//   npm run bench              full run (about 10 minutes on 2 cores)
//   npm run bench -- --quick   smoke run (about a minute: fewer rounds and files)
//   npm run bench -- --only=latency,memory
// Raw results go to bench/results/ (git-ignored). Generated suites live in
// bench/.generated/run-<pid>/ (git-ignored) and are removed at the end.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { breakdown } from './breakdown.mjs'
import { latency, LATENCY_GRACE, LATENCY_KILL_AFTER } from './latency.mjs'
import { leakSettle } from './leak-settle.mjs'
import { fmt, fmtDist, log, otherBenches, removeGenerated, RESULTS, ROOT, VITEST } from './lib.mjs'
import { memory } from './memory.mjs'
import { overhead } from './overhead.mjs'
import { recovery, RECOVERY_GRACE, RECOVERY_KILL_AFTER } from './recovery.mjs'

const quick = process.argv.includes('--quick')
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',')
const want = (name) => !only || only.includes(name)
const SECTIONS = ['latency', 'recovery', 'memory', 'leak-settle', 'breakdown', 'overhead']
const unknown = (only ?? []).filter((name) => !SECTIONS.includes(name))
if (unknown.length) {
  console.error(`unknown section(s) in --only: ${unknown.join(', ')}; known: ${SECTIONS.join(', ')}`)
  process.exit(2)
}

/** The targets of issue 13, each against plain Vitest in the same run. */
const TARGETS = { wall: 1.03, cpu: 1.05, leaksReportVsOff: 1.01, latencyP50: 150, memoryMB: 3, perTestMs: 0.01, startupMs: 3, recoveryOverSwitchMs: 30 }

function machine() {
  const cpuModel = readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? cpus()[0]?.model ?? 'unknown'
  let nproc = String(cpus().length)
  try {
    nproc = execFileSync('nproc', { encoding: 'utf8', timeout: 5_000 }).trim()
  } catch {}
  const vitest = execFileSync(process.execPath, [VITEST, '--version'], { encoding: 'utf8', timeout: 30_000, cwd: ROOT }).trim()
  return { nproc, memGB: (totalmem() / 2 ** 30).toFixed(1), dist: distFingerprint(), cpuModel, node: process.version, vitest, loadavg: readFileSync('/proc/loadavg', 'utf8').trim() }
}

/** dist/ is rebuilt by others while benches run: record which build was measured. */
function distFingerprint() {
  const dir = join(ROOT, 'dist')
  const hash = createHash('sha256')
  let newest = 0
  const walk = (d) => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name)
      const st = statSync(path)
      if (st.isDirectory()) walk(path)
      else {
        hash.update(name).update(readFileSync(path))
        newest = Math.max(newest, st.mtimeMs)
      }
    }
  }
  try {
    walk(dir)
    return { sha256: hash.digest('hex').slice(0, 12), newestFile: new Date(newest).toISOString() }
  } catch (error) {
    return { error: String(error) }
  }
}

function render(results) {
  const out = []
  const m = results.machine
  out.push(`Machine: ${m.nproc} cores (nproc), ${m.memGB} GiB RAM, ${m.cpuModel}; Node ${m.node}; ${m.vitest}; dist ${m.dist.sha256 ?? '?'} (built ${m.dist.newestFile ?? '?'}; at end ${results.distAtEnd?.sha256 ?? '?'}); mode ${results.mode}${results.only ? ` (only ${results.only.join(', ')})` : ''}; ${(results.totalMs / 60_000).toFixed(1)} min; load before: ${m.loadavg}; after: ${results.loadavgAtEnd ?? '?'}`, '')
  if (results.mode === 'quick') out.push('Quick mode: one round of small suites, a smoke test of the scripts. Its figures are not measurements, and neither are its met / not met.', '')
  const others = [...new Set([...(results.otherBenches ?? []), ...(results.otherBenchesAtEnd ?? [])])]
  if (others.length) out.push(`**Another bench run was alive during this one (pids ${others.join(', ')}): every figure below is noise.**`, '')

  // ------------------------------------------------------------ targets
  out.push('Targets (issue 13), each against plain Vitest in the same run; ratios and differences are paired per round.', '')
  out.push('| # | figure | measured: median (min, max, n) | target | result |', '|---|---|---|---|---|')
  /** `id`: the target's number in bench/README.md. `value` is compared with `target` (<=). `measured` undefined: the section did not run. */
  const targetRow = (id, figure, measured, value, targetText, target) => {
    const result = measured === undefined ? '-' : !Number.isFinite(value) ? 'no sample' : value <= target ? 'met' : '**not met**'
    out.push(`| ${id} | ${figure} | ${measured ?? 'not run (--only)'} | ${targetText} | ${result} |`)
  }
  const suite = (name) => (results.overhead ?? []).find((s) => s.suite === name)
  const variant = (s, name) => s?.variants.find((v) => v.name === name)
  const runNote = (v) => (v && !v.allPassed ? ' (some runs failed)' : '') + (v?.leaksReported ? `; ${v.leaksReported} leaks reported per run` : '')
  for (const [id, name] of [[1, 'synthetic'], [2, 'realistic']]) {
    const s = suite(name)
    const v = variant(s, "watchdog leaks 'report'")
    const size = s ? ` (${s.files} files x ${s.tests} tests)` : ''
    targetRow(id, `${name} suite${size}, watchdog leaks 'report' / plain: wall`, v && fmtDist(v.wallRatio) + runNote(v), v?.wallRatio.median, `<= ${TARGETS.wall}`, TARGETS.wall)
    targetRow(id, `${name} suite, watchdog leaks 'report' / plain: CPU of the process tree`, v && fmtDist(v.cpuRatio), v?.cpuRatio.median, `<= ${TARGETS.cpu}`, TARGETS.cpu)
  }
  const b = results.breakdown
  const bReport = (key) => b?.[key]?.["watchdog leaks 'report'"]
  targetRow(3, `per trivial test, gap between test starts: watchdog leaks 'report' - plain, ms`, bReport('perTestMinusPlainMs') && fmtDist(bReport('perTestMinusPlainMs'), 3), bReport('perTestMinusPlainMs')?.median, `<= plain + ${TARGETS.perTestMs} ms`, TARGETS.perTestMs)
  targetRow(4, `worker process start -> first test: watchdog leaks 'report' - plain, ms`, bReport('startupMinusPlainMs') && fmtDist(bReport('startupMinusPlainMs'), 1), bReport('startupMinusPlainMs')?.median, `<= plain + ${TARGETS.startupMs} ms`, TARGETS.startupMs)
  const mReport = results.memory?.variants.find((v) => v.name === "watchdog leaks 'report'")
  targetRow(5, `worker RSS at its last test: watchdog leaks 'report' - plain, MB`, mReport && fmtDist(mReport.rssDiffMB, 1), mReport?.rssDiffMB.median, `<= plain + ${TARGETS.memoryMB} MB`, TARGETS.memoryMB)
  for (const name of ['synthetic', 'realistic']) {
    const r = suite(name)?.reportVsOff
    targetRow(6, `${name} suite, watchdog leaks 'report' / leaks 'off': wall`, r && fmtDist(r.wall), r?.wall.median, `<= ${TARGETS.leaksReportVsOff}`, TARGETS.leaksReportVsOff)
  }
  const l = results.latency
  targetRow(7, `interrupt latency: next test's start - (spinning test's start + killAfter ${LATENCY_KILL_AFTER} + grace ${LATENCY_GRACE}), ms`, l && `p50 ${fmtDist(l.latencyMs, 1)}; p90 ${fmt(l.latencyMs.p90, 1)}`, l?.latencyMs.p50, `p50 <= ${TARGETS.latencyP50} ms`, TARGETS.latencyP50)
  const r = results.recovery
  targetRow(8, `kill recovery: next test's start in the fresh worker - (blocked test's start + killAfter ${RECOVERY_KILL_AFTER} + grace ${RECOVERY_GRACE}), minus plain Vitest's worker switch of the same round, ms`, r && `${fmtDist(r.workerMinusSwitchMs, 0)}; recovery ${fmt(r.workerRecoveryMs.median, 0)}, switch ${fmt(r.fileSwitchMs.median, 0)}`, r?.workerMinusSwitchMs.median, `<= plain worker switch + ${TARGETS.recoveryOverSwitchMs} ms`, TARGETS.recoveryOverSwitchMs)
  {
    const s = suite('synthetic')
    const v = variant(s, "watchdog leaks 'report' --pool=threads")
    targetRow('threads', `synthetic suite, --pool=threads: watchdog leaks 'report' / plain (both threads): wall`, v && fmtDist(v.wallRatio) + runNote(v), v?.wallRatio.median, `<= ${TARGETS.wall} (the forks target, applied)`, TARGETS.wall)
    targetRow('threads', `synthetic suite, --pool=threads: watchdog leaks 'report' / plain (both threads): CPU of the process tree`, v && fmtDist(v.cpuRatio), v?.cpuRatio.median, `<= ${TARGETS.cpu} (the forks target, applied)`, TARGETS.cpu)
  }

  // ------------------------------------------------------------ context
  out.push('', 'Context (no target): the other variants, the absolute figures the differences come from, and the diagnostics.', '')
  out.push('| figure | measured: median (min, max, n) |', '|---|---|')
  for (const s of results.overhead ?? []) {
    for (const v of s.variants) {
      if (v.name === v.base) {
        out.push(`| ${s.suite} suite, ${v.name}: wall s; CPU s (for scale) | ${fmtDist(scale(v.wallMs, 1e-3), 2)}; ${fmtDist(scale(v.cpuMs, 1e-3), 2)}${runNote(v)} |`)
        continue
      }
      if (v.name.startsWith("watchdog leaks 'report'")) continue // a target row above
      out.push(`| ${s.suite} suite, ${v.name} / ${v.base}: wall; CPU | ${fmtDist(v.wallRatio)}; ${fmtDist(v.cpuRatio)}${runNote(v)} |`)
    }
    if (s.reportVsOff) out.push(`| ${s.suite} suite, watchdog leaks 'report' / leaks 'off': CPU | ${fmtDist(s.reportVsOff.cpu)} |`)
  }
  if (l) {
    out.push(`| interrupt latency, all samples (${l.pairs} spinning tests x ${l.runs} runs), ms | ${fmtDist(l.latencyMs, 1)} |`)
    out.push(`| interrupt latency: stages seen | ${stageText(l.stages)} |`)
  }
  if (r) {
    out.push(`| kill recovery (worker killed, FIFO read): next test's start in the fresh worker - (start + killAfter + grace), ms | ${fmtDist(r.workerRecoveryMs, 0)} |`)
    out.push(`| plain Vitest worker switch: last test of file 1 -> first test of file 2 (fresh worker), ms | ${fmtDist(r.fileSwitchMs, 0)} |`)
    out.push(`| child kill (execSync('sleep 30')): next test's start in the same worker - (start + killAfter + grace), ms | ${fmtDist(r.childRecoveryMs, 0)} |`)
    out.push(`| plain Vitest cold start: CLI spawn -> first test's start, ms; worker-kill recovery / cold start (per round) | ${fmtDist(r.coldStartMs, 0)}; ${fmtDist(r.ratioToCold)} |`)
    out.push(`| kill recovery: stages seen | ${stageText(r.stages)} |`)
  }
  if (results.memory) {
    for (const v of results.memory.variants) {
      if (v.name === 'plain') out.push(`| worker RSS, plain (absolute, for scale), MB | ${fmtDist(v.rssMB, 1)} |`)
      else out.push(`| worker RSS, ${v.name} - plain, MB; heap used - plain, MB | ${fmtDist(v.rssDiffMB, 1)}; ${fmtDist(v.heapDiffMB, 1)} |`)
    }
  }
  if (b) {
    for (const [name, d] of Object.entries(b.startupMs)) out.push(`| worker process start -> first test (${b.tests}-test files), ${name}, ms | ${fmtDist(d, 1)} |`)
    for (const [name, d] of Object.entries(b.startupMinusPlainMs)) if (name !== "watchdog leaks 'report'") out.push(`| worker process start -> first test, ${name} - plain (per round), ms | ${fmtDist(d, 1)} |`)
    for (const [name, d] of Object.entries(b.perTestMs)) out.push(`| per trivial test, gap between test starts, ${name}, ms | ${fmtDist(d, 3)} |`)
    for (const [name, d] of Object.entries(b.perTestMinusPlainMs)) if (name !== "watchdog leaks 'report'") out.push(`| per trivial test, ${name} - plain (per round), ms | ${fmtDist(d, 3)} |`)
    for (const [name, d] of Object.entries(b.fileSwitchMs)) out.push(`| file switch (last test of a file -> first test of the next, 1 worker), ${name}, ms | ${fmtDist(d, 0)} |`)
    for (const [name, d] of Object.entries(b.fileSwitchMinusPlainMs)) out.push(`| file switch, ${name} - plain (per round), ms | ${fmtDist(d, 0)} |`)
  }
  if (results.leakSettle) {
    const ls = results.leakSettle
    for (const [name, d] of Object.entries(ls.gapMs)) out.push(`| tests that await fetch(): gap between test starts, ${name}, ms | ${fmtDist(d, 1)} |`)
    out.push(`| tests that await fetch() (${ls.tests}): leak entries reported per run (expected 0) | ${ls.leaksReportedPerRun}, of which ${ls.leaksInNodeInternalsPerRun} created in node:internal (undici) |`)
  }

  const rebuilt = Object.entries(results.distBySection ?? {}).filter(([, v]) => v.includes('->'))
  if (rebuilt.length) out.push('', 'dist/ changed during: ' + rebuilt.map(([k, v]) => `${k} (${v})`).join('; '))
  const problems = [...(results.latency?.problems ?? []), ...(results.recovery?.problems ?? []), ...(results.memory?.problems ?? [])]
  for (const s of results.overhead ?? []) for (const v of s.variants) if (!v.allPassed || v.leftovers) problems.push(`overhead ${s.suite}, ${v.name}: ${v.allPassed ? '' : 'some runs did not pass; '}${v.leftovers} leftover processes; results: ${v.summaries.join(' / ')}`)
  if (results.leakSettle?.leaksReportedPerRun) problems.push(`leak-settle: ${results.leakSettle.leaksReportedPerRun} leaks reported for tests that only await fetch() (false leaks)`)
  if (problems.length) out.push('', 'Problems:', ...problems.map((p) => `- ${p}`))
  return out.join('\n')
}

const scale = (d, k) => ({ ...d, median: d.median * k, min: d.min * k, max: d.max * k })
const stageText = (stages) => Object.entries(stages ?? {}).map(([k, n]) => `${k} x${n}`).join('; ') || 'none'

async function main() {
  const started = performance.now()
  const results = { date: new Date().toISOString(), mode: quick ? 'quick' : 'full', only, machine: machine(), otherBenches: otherBenches() }
  if (results.otherBenches.length) log(`WARNING: another bench run is alive (pids ${results.otherBenches.join(', ')}): the two disturb each other's figures`)
  try {
    const sections = [
      ['latency', 'latency', latency],
      ['recovery', 'recovery', recovery],
      ['memory', 'memory', memory],
      ['leak-settle', 'leakSettle', leakSettle],
      ['breakdown', 'breakdown', breakdown],
      ['overhead', 'overhead', overhead],
    ]
    results.distBySection = {}
    for (const [name, key, fn] of sections) {
      if (!want(name)) continue
      const before = distFingerprint().sha256
      results[key] = await fn({ quick })
      const after = distFingerprint().sha256
      results.distBySection[name] = before === after ? before : `${before} -> ${after} (dist/ was rebuilt during this section)`
    }
  } finally {
    removeGenerated()
  }
  results.totalMs = performance.now() - started
  results.distAtEnd = distFingerprint()
  results.loadavgAtEnd = readFileSync('/proc/loadavg', 'utf8').trim()
  results.otherBenchesAtEnd = otherBenches()
  mkdirSync(RESULTS, { recursive: true })
  const stamp = results.date.replace(/[:.]/g, '-')
  const file = join(RESULTS, `${results.mode}-${stamp}.json`)
  writeFileSync(file, JSON.stringify(results, null, 2))
  const table = render(results)
  writeFileSync(join(RESULTS, `${results.mode}-${stamp}.md`), `${table}\n`)
  process.stdout.write(`${table}\n\nRaw results: ${file}\n`)
}

main().catch((error) => {
  removeGenerated()
  console.error(error)
  process.exit(1)
})
