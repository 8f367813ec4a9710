#!/usr/bin/env node
// Runs every benchmark and prints a Markdown summary.
//   npm run bench              full run (about 10 minutes on 2 cores)
//   npm run bench -- --quick   smoke run (about a minute: fewer rounds and files)
//   npm run bench -- --only=latency,memory
// Raw results go to bench/results/ (git-ignored). Generated suites live in
// bench/.generated/ (git-ignored) and are removed at the end.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { breakdown } from './breakdown.mjs'
import { latency } from './latency.mjs'
import { leakSettle } from './leak-settle.mjs'
import { dist, fmt, fmtDist, log, removeGenerated, RESULTS, ROOT, VITEST } from './lib.mjs'
import { memory } from './memory.mjs'
import { overhead } from './overhead.mjs'
import { recovery } from './recovery.mjs'

const quick = process.argv.includes('--quick')
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',')
const want = (name) => !only || only.includes(name)

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

const met = (ok) => (ok ? 'met' : '**missed**')

function render(results) {
  const out = []
  const m = results.machine
  out.push(`Machine: ${m.nproc} cores (nproc), ${m.memGB} GiB RAM, ${m.cpuModel}; Node ${m.node}; ${m.vitest}; dist ${m.dist.sha256 ?? '?'} (built ${m.dist.newestFile ?? '?'}; at end ${results.distAtEnd?.sha256 ?? '?'}); mode ${results.mode}; ${(results.totalMs / 60_000).toFixed(1)} min; load before: ${m.loadavg}`, '')
  out.push('| figure | measured: median (min, max, n) | target | result |', '|---|---|---|---|')
  for (const s of results.overhead ?? []) {
    for (const v of s.variants) {
      if (v.name === 'plain') continue
      const targeted = v.name.startsWith("watchdog leaks 'report'")
      out.push(`| overhead, ${s.suite} suite (${s.files}x${s.tests}): ${v.name} / plain, wall | ${fmtDist(v.wallRatio)}${v.allPassed ? '' : ' (some runs failed)'}${v.leaksReported ? `; ${v.leaksReported} leaks reported per run` : ''} | ${targeted ? `<= ${TARGETS.wall}` : '-'} | ${targeted ? met(v.wallRatio.median <= TARGETS.wall) : ''} |`)
      out.push(`| overhead, ${s.suite} suite: ${v.name} / plain, CPU of the process tree | ${fmtDist(v.cpuRatio)} | ${targeted ? `<= ${TARGETS.cpu}` : '-'} | ${targeted ? met(v.cpuRatio.median <= TARGETS.cpu) : ''} |`)
    }
    const report = s.runs["watchdog leaks 'report'"]
    const off = s.runs["watchdog leaks 'off'"]
    if (report && off) {
      const wall = dist(report.map((r, i) => r.wallMs / off[i].wallMs))
      const cpu = dist(report.map((r, i) => r.cpuMs / off[i].cpuMs))
      out.push(`| ${s.suite} suite: watchdog leaks 'report' / leaks 'off', wall (CPU) | ${fmtDist(wall)} (${fmtDist(cpu)}) | <= ${TARGETS.leaksReportVsOff} | ${met(wall.median <= TARGETS.leaksReportVsOff)} |`)
    }
  }
  if (results.latency) {
    const l = results.latency
    out.push(`| interrupt latency: next test start - (start + killAfter + grace), ms | p50 ${fmtDist(l.latencyMs, 1)}; p90 ${fmt(l.latencyMs.p90, 1)} | p50 <= ${TARGETS.latencyP50} ms | ${met(l.latencyMs.p50 <= TARGETS.latencyP50)} |`)
  }
  if (results.recovery) {
    const r = results.recovery
    out.push(`| kill of the child a test waits on (execSync): next test start, same worker - (start + killAfter + grace), ms | ${fmtDist(r.childRecoveryMs, 0)} | - | |`)
    out.push(`| kill of the worker (FIFO read): next test start, fresh worker - (start + killAfter + grace), ms | ${fmtDist(r.workerRecoveryMs, 0)} | - | |`)
    out.push(`| plain Vitest file switch (fresh worker): last test of file 1 -> first test of file 2, ms | ${fmtDist(r.fileSwitchMs, 0)} | - | |`)
    out.push(`| worker-kill recovery - plain file switch (per round), ms | ${fmtDist(r.workerMinusSwitchMs, 0)} | <= ${TARGETS.recoveryOverSwitchMs} | ${met(r.workerMinusSwitchMs.median <= TARGETS.recoveryOverSwitchMs)} |`)
    out.push(`| plain Vitest cold start: CLI spawn -> first test start, ms; worker-kill recovery / cold start | ${fmtDist(r.coldStartMs, 0)}; ${fmtDist(r.ratioToCold)} | - | |`)
  }
  if (results.memory) {
    for (const v of results.memory.variants) {
      if (v.name === 'plain') continue
      const targeted = v.name === "watchdog leaks 'report'"
      out.push(`| worker RSS, ${v.name} - plain, MB | ${fmtDist(v.rssDiffMB, 1)} | ${targeted ? `<= ${TARGETS.memoryMB} MB` : '-'} | ${targeted ? met(v.rssDiffMB.median <= TARGETS.memoryMB) : ''} |`)
    }
    const plain = results.memory.variants.find((v) => v.name === 'plain')
    out.push(`| worker RSS, plain (absolute, for scale), MB | ${fmtDist(plain.rssMB, 1)} | - | |`)
  }
  if (results.leakSettle) {
    const l = results.leakSettle
    for (const [name, d] of Object.entries(l.gapMs)) out.push(`| fetch test, gap between test starts, ${name}, ms | ${fmtDist(d, 1)} | - | |`)
    out.push(`| fetch tests: leak entries reported per run (${l.tests} tests that await fetch() and its body) | ${l.leaksReportedPerRun}, of which ${l.leaksInNodeInternalsPerRun} created in node:internal (undici) | 0 | ${met(l.leaksReportedPerRun === 0)} |`)
  }
  if (results.breakdown) {
    const b = results.breakdown
    const plainOf = (by) => Object.entries(by).find(([name]) => name === 'plain')?.[1]
    const versus = (by, name, target, digits) => {
      const plain = plainOf(by)
      if (name === 'plain' || !plain) return ['-', '']
      const diff = by[name].median - plain.median
      return [`<= plain + ${target} (median diff ${fmt(diff, digits)})`, met(diff <= target)]
    }
    for (const [name, d] of Object.entries(b.startupMs)) {
      const [target, result] = versus(b.startupMs, name, TARGETS.startupMs, 1)
      out.push(`| worker process start -> first test (${b.tests}-test files), ${name}, ms | ${fmtDist(d, 1)} | ${target} | ${result} |`)
    }
    for (const [name, d] of Object.entries(b.fileSwitchMs)) out.push(`| file switch (last test of a file -> first test of the next, 1 worker), ${name}, ms | ${fmtDist(d, 0)} | - | |`)
    for (const [name, d] of Object.entries(b.perTestMs)) {
      const [target, result] = versus(b.perTestMs, name, TARGETS.perTestMs, 3)
      out.push(`| per trivial test, gap between test starts, ${name}, ms | ${fmtDist(d, 3)} | ${target} | ${result} |`)
    }
  }
  const rebuilt = Object.entries(results.distBySection ?? {}).filter(([, v]) => v.includes('->'))
  if (rebuilt.length) out.push('', 'dist/ changed during: ' + rebuilt.map(([k, v]) => `${k} (${v})`).join('; '))
  const problems = [...(results.latency?.problems ?? []), ...(results.recovery?.problems ?? []), ...(results.memory?.problems ?? [])]
  for (const s of results.overhead ?? []) for (const v of s.variants) if (!v.allPassed || v.leftovers) problems.push(`overhead ${s.suite}, ${v.name}: ${v.allPassed ? '' : 'some runs did not pass; '}${v.leftovers} leftover processes; results: ${v.summaries.join(' / ')}`)
  if (problems.length) out.push('', 'Problems:', ...problems.map((p) => `- ${p}`))
  return out.join('\n')
}

async function main() {
  const started = performance.now()
  const results = { date: new Date().toISOString(), mode: quick ? 'quick' : 'full', machine: machine() }
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
