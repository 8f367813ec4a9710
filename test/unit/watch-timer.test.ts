import { appendFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, expect, test } from 'vitest'
import { WorkerWatch } from '../../src/host/ladder/watch.js'
import type { InspectorTarget } from '../../src/host/ladder/targets.js'
import { WatchdogJournalVersionError } from '../../src/shared/errors.js'
import { parseJournal, type RunLine } from '../../src/shared/journal.js'
import type { Stop } from '../../src/shared/stop.js'

// The main process's watch of one journal, with no worker: each stage of a
// run comes at its own time from the run's start, through one timer.

/** A stage is never early; late only by what a loaded machine adds (a bound against a stage that never comes, not a speed check). */
const LATE_MS = 2_000

let dir: string
let journal: string
let events: Array<{ what: string; at: number; stop?: Stop }>
let watch: WorkerWatch

const target: InspectorTarget = {
  kind: 'process',
  open: async () => {
    events.push({ what: 'open', at: Date.now() })
    throw new Error('no inspector here')
  },
  close: async () => {},
  unreachable: async () => ({ reason: 'blocked-outside-js', observed: { step: 'connect', bound: 0 } }),
  kernelView: async () => ({}),
  release: async () => {},
  blockingChildren: () => [],
  ownChildren: () => [],
  sampleKernel: () => {},
}

function run(seq: number, at: number, budget: number, grace: number): RunLine {
  return { kind: 'run', seq, at, budget, grace, budgetSource: 'killAfter', subject: 'Test', file: join(dir, 'a.test.ts'), name: `run ${seq}`, hadSignal: true }
}

function write(...lines: object[]): void {
  appendFileSync(journal, lines.map((line) => `${JSON.stringify(line)}\n`).join(''))
}

const timerDue = () => (watch as unknown as { timerDue: number }).timerDue
const until = async (check: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms
  while (!check() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 10))
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'watch-timer-'))
  journal = join(dir, 'journal.jsonl')
  write({ kind: 'journal', version: 1 })
  events = []
  watch = new WorkerWatch(journal, target, {
    root: dir,
    note: () => {},
    log: (message) => events.push({ what: message.includes('SLOW') ? 'slow' : message, at: Date.now() }),
    kill: (stop) => events.push({ what: 'kill', at: Date.now(), stop }),
  })
})

afterEach(() => {
  watch.dispose()
  rmSync(dir, { recursive: true, force: true })
})

function expectAt(what: string, due: number): void {
  const seen = events.filter((e) => e.what === what)
  expect(seen, `${what}: ${JSON.stringify(events)}`).toHaveLength(1)
  expect(seen[0]!.at).toBeGreaterThanOrEqual(due)
  expect(seen[0]!.at).toBeLessThan(due + LATE_MS)
}

test('SLOW at half the budget, the session at the budget, the stop at budget + grace, each from the run\'s start', async () => {
  const at = Date.now()
  write(run(1, at, 300, 200))
  watch.poll()
  await until(() => events.some((e) => e.what === 'kill'))
  expectAt('slow', at + 150)
  const open = events.find((e) => e.what === 'open')
  expect(open!.at).toBeGreaterThanOrEqual(at + 300)
  expect(open!.at).toBeLessThan(at + 300 + LATE_MS)
  expectAt('kill', at + 500)
  expect(events.at(-1)!.stop).toMatchObject({ stage: 'kill', reason: 'blocked-outside-js', killAfter: 300, grace: 200 })
})

test('a run whose start and end come in one read is never armed', async () => {
  const at = Date.now()
  write(run(1, at, 100, 50), { kind: 'done', seq: 1 })
  watch.poll()
  expect(timerDue()).toBe(Infinity)
  await new Promise((resolve) => setTimeout(resolve, 250))
  expect(events).toEqual([])
})

test('one timer for the earliest stage of any open run; an ended run\'s stages no longer count', async () => {
  const at = Date.now()
  write(run(1, at, 1_000, 500), run(2, at, 400, 100))
  watch.poll()
  expect(timerDue()).toBe(at + 200)
  write({ kind: 'done', seq: 2 })
  watch.poll()
  expect(timerDue()).toBe(at + 500)
  write({ kind: 'done', seq: 1 })
  watch.poll()
  expect(timerDue()).toBe(Infinity)
  expect(events).toEqual([])
})

test('a restart counts every stage again from its own time; SLOW is said once', async () => {
  const at = Date.now()
  write(run(1, at, 300, 100))
  watch.poll()
  await until(() => events.some((e) => e.what === 'slow'))
  const restart = Date.now()
  write({ kind: 'restart', seq: 1, at: restart })
  watch.poll()
  await until(() => events.some((e) => e.what === 'kill'))
  expectAt('slow', at + 150)
  expectAt('kill', restart + 400)
})

test('a run read late gets its past stages at once, in order', async () => {
  const at = Date.now() - 1_000
  write(run(1, at, 300, 100))
  watch.poll()
  await until(() => events.some((e) => e.what === 'kill'))
  expect(events.map((e) => e.what)).toEqual(['slow', 'open', 'kill'])
})

test('a budget too large for a timer arms nothing; one whose stop is too large arms SLOW only', async () => {
  const at = Date.now()
  write(run(1, at, 2 ** 32, 1_000), run(2, at, 2 ** 31 - 1, 1_000))
  watch.poll()
  expect(timerDue()).toBe(at + (2 ** 31 - 1) / 2)
  write({ kind: 'done', seq: 2 })
  watch.poll()
  expect(timerDue()).toBe(Infinity)
})

test("the watch's read parses only the kinds it asks for, and always the header's version", () => {
  const lines = [
    { kind: 'journal', version: 1 },
    { kind: 'test', test: 't', at: 1, file: 'f', name: 'n', killAfter: null },
    { kind: 'result', test: 't', result: { state: 'pass' } },
    run(1, 1, 100, 10),
    { kind: 'done', seq: 1 },
  ].map((line) => JSON.stringify(line))
  // Written otherwise than the worker writes (kind not first): parsed, and kept by its kind.
  lines.push(JSON.stringify({ seq: 2, kind: 'done' }))
  expect(parseJournal(lines.join('\n') + '\n', new Set(['run', 'done'])).map((line) => line.kind)).toEqual(['journal', 'run', 'done', 'done'])
  expect(parseJournal(lines.join('\n') + '\n').map((line) => line.kind)).toEqual(['journal', 'test', 'result', 'run', 'done', 'done'])
  expect(() => parseJournal(`${JSON.stringify({ kind: 'journal', version: 2 })}\n`, new Set(['run']))).toThrow(WatchdogJournalVersionError)
})
