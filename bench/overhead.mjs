// 1. Overhead on clean suites: wall time (and CPU time of the whole process
// tree) of `vitest run` per variant, divided by its plain Vitest reference run
// in the same round (forks variants by plain forks, threads variants by plain
// threads). Also leaks 'report' / leaks 'off', paired the same way.
import { join } from 'node:path'
import { configSource, dist, freshDir, GENERATED, log, runVitest, withDistRetry, writeTree } from './lib.mjs'

/** Vitest's default pool (forks). `base`: the plain variant each run is divided by. */
export const VARIANTS = [
  { name: 'plain', config: 'vitest.plain.config.mjs', args: [], base: 'plain' },
  { name: 'plain --detect-async-leaks', config: 'vitest.plain.config.mjs', args: ['--detect-async-leaks'], base: 'plain' },
  { name: "watchdog leaks 'report'", config: 'vitest.report.config.mjs', args: [], base: 'plain' },
  { name: "watchdog leaks 'off'", config: 'vitest.off.config.mjs', args: [], base: 'plain' },
]

/** The threads pool, synthetic suite only: it now has no per-worker cost either. */
export const THREADS_VARIANTS = [
  { name: 'plain --pool=threads', config: 'vitest.plain.config.mjs', args: ['--pool=threads'], base: 'plain --pool=threads' },
  { name: "watchdog leaks 'report' --pool=threads", config: 'vitest.report.config.mjs', args: ['--pool=threads'], base: 'plain --pool=threads' },
]

function configs() {
  return {
    'vitest.plain.config.mjs': configSource(),
    'vitest.report.config.mjs': configSource({ plugin: "watchdog({ leaks: 'report' })" }),
    'vitest.off.config.mjs': configSource({ plugin: "watchdog({ leaks: 'off' })" }),
  }
}

/** 40 files x 25 small synchronous tests. */
export function syntheticSuite(files, tests) {
  const out = configs()
  for (let f = 0; f < files; f++) {
    const body = [
      "import { describe, expect, test } from 'vitest'",
      '',
      'function fib(n: number): number {',
      '  return n < 2 ? n : fib(n - 1) + fib(n - 2)',
      '}',
      '',
      `describe('file ${f}', () => {`,
    ]
    for (let t = 0; t < tests; t++) {
      const n = 8 + (t % 6)
      body.push(
        `  test('case ${t}', () => {`,
        `    const words = Array.from({ length: ${10 + t} }, (_, i) => 'w' + (i * ${f + 1}))`,
        `    expect(words.join(',').split(',')).toHaveLength(${10 + t})`,
        `    expect(fib(${n})).toBe(${fib(n)})`,
        `    expect({ f: ${f}, t: ${t}, words: words.slice(0, 2) }).toEqual({ f: ${f}, t: ${t}, words: ['w0', 'w${f + 1}'] })`,
        '  })',
      )
    }
    body.push('})', '')
    out[`synthetic-${String(f).padStart(2, '0')}.test.ts`] = body.join('\n')
  }
  return out
}

function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2)
}

/**
 * Shaped like real code: real packages from node_modules (pathe, picocolors),
 * node builtins, async file I/O in a temp dir, a local HTTP server per file
 * (127.0.0.1, port 0, closed in afterAll) hit with fetch, fake timers in some
 * tests, a few real short timers.
 */
export function realisticSuite(files, tests) {
  const out = configs()
  for (let f = 0; f < files; f++) {
    const body = [
      "import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest'",
      "import { basename, join, normalize } from 'pathe'",
      "import pc from 'picocolors'",
      "import { createHash } from 'node:crypto'",
      "import { createServer, type Server } from 'node:http'",
      "import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises'",
      "import { tmpdir } from 'node:os'",
      "import { setTimeout as sleep } from 'node:timers/promises'",
      '',
      `const dir = join(process.env.BENCH_TMP ?? tmpdir(), 'realistic-${f}-' + process.pid)`,
      'let server: Server',
      'let base = ""',
      '',
      'function debounce<T extends unknown[]>(fn: (...args: T) => void, ms: number) {',
      '  let timer: ReturnType<typeof setTimeout> | undefined',
      '  return (...args: T) => {',
      '    clearTimeout(timer)',
      '    timer = setTimeout(() => fn(...args), ms)',
      '  }',
      '}',
      '',
      'beforeAll(async () => {',
      '  await mkdir(dir, { recursive: true })',
      '  server = createServer((req, res) => {',
      '    let body = ""',
      '    req.on("data", (c) => (body += c))',
      '    req.on("end", () => {',
      '      res.setHeader("content-type", "application/json")',
      '      res.end(JSON.stringify({ method: req.method, url: req.url, length: body.length }))',
      '    })',
      '  })',
      '  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))',
      '  const address = server.address()',
      '  base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`',
      '})',
      '',
      'afterAll(async () => {',
      '  server.closeAllConnections()',
      '  await new Promise<void>((resolve) => server.close(() => resolve()))',
      '  await rm(dir, { recursive: true, force: true })',
      '})',
      '',
      `describe('module ${f}', () => {`,
    ]
    for (let t = 0; t < tests; t++) {
      switch (t % 5) {
        case 0:
          body.push(
            `  test('writes and reads file ${t}', async () => {`,
            `    const file = join(dir, 'data-${t}.json')`,
            `    const data = { id: ${t}, items: Array.from({ length: 50 }, (_, i) => ({ i, name: 'item-' + i })) }`,
            '    await writeFile(file, JSON.stringify(data))',
            '    const back = JSON.parse(await readFile(file, "utf8"))',
            '    expect(back).toEqual(data)',
            `    expect(basename(normalize(file))).toBe('data-${t}.json')`,
            `    expect(await readdir(dir)).toContain('data-${t}.json')`,
            '  })',
          )
          break
        case 1:
          body.push(
            `  test('calls the local server ${t}', async () => {`,
            `    const res = await fetch(base + '/items/${t}', { method: 'POST', body: 'x'.repeat(${100 + t}) })`,
            '    expect(res.status).toBe(200)',
            `    expect(await res.json()).toEqual({ method: 'POST', url: '/items/${t}', length: ${100 + t} })`,
            '  })',
          )
          break
        case 2:
          body.push(
            `  test('debounces with fake timers ${t}', () => {`,
            '    vi.useFakeTimers()',
            '    try {',
            '      const calls: number[] = []',
            '      const fn = debounce((n: number) => calls.push(n), 100)',
            '      fn(1); fn(2); fn(3)',
            '      vi.advanceTimersByTime(99)',
            '      expect(calls).toEqual([])',
            '      vi.advanceTimersByTime(1)',
            '      expect(calls).toEqual([3])',
                  '    } finally {',
            '      vi.useRealTimers()',
            '    }',
            '  })',
          )
          break
        case 3:
          body.push(
            `  test('formats and hashes ${t}', () => {`,
            `    const line = pc.green('ok') + ' ' + pc.bold('case ${t}')`,
            `    expect(line).toContain('case ${t}')`,
            `    const hash = createHash('sha256').update(line + ${f}).digest('hex')`,
            '    expect(hash).toMatch(/^[0-9a-f]{64}$/)',
            '  })',
          )
          break
        default:
          body.push(
            `  test('waits on a real timer ${t}', async () => {`,
            '    const start = Date.now()',
            '    await sleep(2)',
            '    expect(Date.now() - start).toBeGreaterThanOrEqual(1)',
            '  })',
          )
      }
    }
    body.push('})', '')
    out[`realistic-${String(f).padStart(2, '0')}.test.ts`] = body.join('\n')
  }
  return out
}

export async function overhead({ quick }) {
  const tests = 25
  const rounds = quick ? 1 : 5
  // The realistic suite is halved in the full run to keep the whole bench
  // around 10 minutes; the synthetic one also runs on the threads pool.
  const suites = [
    { name: 'synthetic', make: syntheticSuite, files: quick ? 5 : 40, variants: [...VARIANTS, ...THREADS_VARIANTS] },
    { name: 'realistic', make: realisticSuite, files: quick ? 5 : 20, variants: VARIANTS },
  ]
  const results = []
  for (const suite of suites) {
    const { files, variants: suiteVariants } = suite
    const dir = freshDir(`overhead-${suite.name}`)
    writeTree(dir, suite.make(files, tests))
    const env = { BENCH_TMP: join(GENERATED, 'tmp') }
    log(`overhead/${suite.name}: ${files} files x ${tests} tests, one plain warm-up run, then ${rounds} rounds x ${suiteVariants.length} variants`)
    const warm = await withDistRetry(() => runVitest({ cwd: dir, config: suiteVariants[0].config, env, timeoutMs: 180_000 }))
    log(`  warm-up plain: ${(warm.wallMs / 1000).toFixed(2)} s wall, ${warm.summary.line || `exit ${warm.code}`}`)
    const runs = Object.fromEntries(suiteVariants.map((v) => [v.name, []]))
    for (let round = 0; round < rounds; round++) {
      // Rotate the starting variant each round so no variant always runs first.
      const order = suiteVariants.map((_, i) => suiteVariants[(i + round) % suiteVariants.length])
      for (const v of order) {
        const r = await withDistRetry(() => runVitest({ cwd: dir, config: v.config, args: v.args, env, timeoutMs: 180_000 }))
        const ok = r.code === 0 && !r.timedOut && r.summary.failed === 0 && r.summary.passed === files * tests
        log(`  round ${round} ${v.name}: ${(r.wallMs / 1000).toFixed(2)} s wall, ${(r.cpuMs / 1000).toFixed(2)} s cpu, ${r.summary.line || `exit ${r.code}`}${r.summary.leaks ? `, ${r.summary.leaks} leaks reported` : ''}${r.leftovers.length ? `, ${r.leftovers.length} LEFTOVER processes` : ''}`)
        if (!ok) log(`  !! ${v.name} did not pass cleanly:\n${r.output.split('\n').slice(-40).join('\n')}`)
        runs[v.name].push({ round, wallMs: r.wallMs, cpuMs: r.cpuMs, ok, code: r.code, summary: r.summary, leftovers: r.leftovers.length })
      }
    }
    /** Each run of `name` divided by the run of `by` in the same round. */
    const paired = (name, by) => ({
      wall: dist(runs[name].map((r, i) => r.wallMs / runs[by][i].wallMs)),
      cpu: dist(runs[name].map((r, i) => r.cpuMs / runs[by][i].cpuMs)),
    })
    const variants = suiteVariants.map((v) => {
      const own = runs[v.name]
      const ratio = paired(v.name, v.base)
      return {
        name: v.name,
        base: v.base,
        wallMs: dist(own.map((r) => r.wallMs)),
        cpuMs: dist(own.map((r) => r.cpuMs)),
        wallRatio: ratio.wall,
        cpuRatio: ratio.cpu,
        allPassed: own.every((r) => r.ok),
        leaksReported: Math.max(0, ...own.map((r) => r.summary.leaks)),
        leftovers: own.reduce((n, r) => n + r.leftovers, 0),
        summaries: [...new Set(own.map((r) => r.summary.line))],
      }
    })
    const reportVsOff = paired("watchdog leaks 'report'", "watchdog leaks 'off'")
    results.push({ suite: suite.name, files, tests, rounds, variants, reportVsOff, runs })
  }
  return results
}
