import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { WatchdogReport } from '../../src/index.js'
import { markedProcesses } from './run-fixture.js'

const repo = resolve(import.meta.dirname, '../..')
const driver = join(import.meta.dirname, 'watch-driver.mjs')

/** A whole watch session must not hang this suite: past this, the driver is killed and the test fails. */
const SESSION_BOUND_MS = 120_000

export interface WatchRun {
  scenario: string
  startedAt: number
  /** What Vitest and the watchdog printed during this run only. */
  output: string
  report: WatchdogReport | null
  /** Processes of this session alive once the run had ended (the driver not counted). */
  processes: number
  heapUsed: number
}

/**
 * Runs `fixtures/<name>` in watch mode through Vitest's Node API, one run per
 * scenario (test/support/watch-driver.mjs), in a process of its own, marked
 * like run-fixture's runs: nothing may be left running after it.
 */
export async function runWatch(name: string, scenarios: string[], env: Record<string, string> = {}): Promise<{ runs: WatchRun[]; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'watchdog-watch-'))
  const mark = randomUUID()
  const results = join(dir, 'runs.json')
  const childEnv: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    // The outer Vitest's variables would make the inner one think it is a worker.
    if (value !== undefined && !key.startsWith('VITEST') && key !== 'NODE_OPTIONS' && key !== 'TEST') childEnv[key] = value
  }
  Object.assign(childEnv, { NO_COLOR: '1', FORCE_COLOR: '0', CI: 'true', WATCHDOG_REPORT: join(dir, 'watchdog-report.json'), WATCHDOG_RUN_DIR: dir, TMPDIR: dir }, env, { WATCHDOG_TEST_MARK: mark })
  try {
    const child = spawn(process.execPath, ['--expose-gc', driver, join(repo, 'fixtures', name), results, ...scenarios], { cwd: join(repo, 'fixtures', name), env: childEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk))
    const code = await new Promise<number | null>((done, fail) => {
      const bound = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL')
        } catch {
          // Gone already.
        }
        fail(new Error(`watch session on fixtures/${name} did not finish within ${SESSION_BOUND_MS}ms:\n${output}`))
      }, SESSION_BOUND_MS)
      child.on('error', fail)
      child.on('close', (exitCode) => {
        clearTimeout(bound)
        done(exitCode)
      })
    })
    let leaked: number[] = []
    for (let attempt = 0; attempt < 20; attempt++) {
      leaked = markedProcesses(childEnv)
      if (leaked.length === 0) break
      await new Promise((r) => setTimeout(r, 100))
    }
    if (leaked.length > 0) {
      for (const pid of leaked) process.kill(pid, 'SIGKILL')
      throw new Error(`watch session on fixtures/${name} left ${leaked.length} process(es) behind\n${output}`)
    }
    if (code !== 0 || !existsSync(results)) throw new Error(`watch driver exited with ${code}:\n${output}`)
    const runs = JSON.parse(readFileSync(results, 'utf8')) as Array<Omit<WatchRun, 'output'>>
    // Each run's part of the output starts at its marker (watch-driver.mjs).
    const parts = output.split(/^::watch-driver run::\d+\n/m).slice(1)
    if (parts.length !== runs.length) throw new Error(`expected ${runs.length} runs in the output, found ${parts.length}:\n${output}`)
    return { runs: runs.map((run, index) => ({ ...run, output: parts[index]! })), output }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
