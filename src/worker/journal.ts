import { closeSync, openSync, readFileSync, writeSync } from 'node:fs'
import type { RunnerTestCase } from 'vitest'
import { ENV_JOURNAL, ENV_RESUME, JOURNAL_VERSION, type JournalLine, type RecordedResult, type ResumePlan } from '../shared/journal.js'

/**
 * The worker's side of the journal (shared/journal.ts). One descriptor,
 * opened on first use and kept: a line is one write(2), nothing is buffered,
 * so a SIGKILL right after a call loses nothing.
 */
let fd: number | null | undefined

function descriptor(): number | null {
  if (fd === undefined) {
    const file = process.env[ENV_JOURNAL]
    fd = null
    if (file) {
      try {
        fd = openSync(file, 'a')
      } catch {
        fd = null
      }
      append({ kind: 'journal', version: JOURNAL_VERSION, pid: process.pid })
    }
  }
  return fd
}

/**
 * Closes the descriptor at the end of a run of files. Descriptors belong to
 * the process, not to a thread: under the threads pools each file's thread
 * would otherwise leave one open in Vitest's own process. A later line
 * reopens it.
 */
export function closeJournal(): void {
  if (typeof fd === 'number') {
    try {
      closeSync(fd)
    } catch {
      // Already closed.
    }
  }
  fd = undefined
}

/** Whether the main process reads a journal of this worker (the watchdog's own pool). */
export function journaling(): boolean {
  return descriptor() !== null
}

export function append(line: JournalLine): void {
  const target = descriptor()
  if (target === null) return
  let text: string
  try {
    text = JSON.stringify(line)
  } catch {
    // A result that cannot be serialized (a cycle, a BigInt): keep the line, drop what cannot be written.
    text = JSON.stringify(line, safeReplacer())
  }
  try {
    writeSync(target, text + '\n')
  } catch {
    // The disk is gone: the run goes on without the journal.
  }
}

function safeReplacer(): (key: string, value: unknown) => unknown {
  const seen = new WeakSet<object>()
  return (_key, value) => {
    if (typeof value === 'bigint') return `${value}n`
    if (value && typeof value === 'object') {
      if (seen.has(value)) return '[Circular]'
      seen.add(value)
    }
    return value
  }
}

export function journalTest(test: RunnerTestCase, killAfter: number | null): void {
  append({ kind: 'test', test: test.id, at: Date.now(), killAfter, file: test.file.filepath, name: (test as { fullTestName?: string }).fullTestName || test.name })
}

export function journalResult(test: RunnerTestCase): void {
  if (test.result) append({ kind: 'result', test: test.id, result: test.result as RecordedResult })
}

let plan: ResumePlan | null | undefined

/** The resume plan this worker was started with, if it replaces a dead one. */
export function resumePlan(): ResumePlan | null {
  if (plan === undefined) {
    const file = process.env[ENV_RESUME]
    plan = file ? (JSON.parse(readFileSync(file, 'utf8')) as ResumePlan) : null
  }
  return plan
}

/**
 * What to report for a test instead of running it, on a resumed worker:
 * its recorded result, its failure, or "not run". Null: run it.
 */
export function restoredResult(test: RunnerTestCase): RecordedResult | null {
  const p = resumePlan()
  if (!p) return null
  const recorded = p.finished[test.id] ?? p.failed[test.id]
  if (recorded) return recorded
  if (p.notRun) return { state: 'skip', note: p.notRun }
  return null
}
