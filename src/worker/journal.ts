import { closeSync, fstatSync, openSync, readFileSync, readSync, writeSync } from 'node:fs'
import type { RunnerTestCase } from 'vitest'
import { realSetImmediate } from '../shared/clock.js'
import { fullTestName } from '../shared/test-task.js'
import { jsonSafe } from '../shared/json-safe.js'
import { ArrayPrototypeJoin, ArrayPrototypePush, DateNow, JSONParse, JSONStringify, ObjectKeys } from '../shared/intrinsics.js'
import { ENV_HOST_INSPECTOR, ENV_JOURNAL, ENV_NOTES, ENV_RESUME, JOURNAL_VERSION, parseNotes, type HostNote, type JournalLine, type RecordedResult, type RecordedTest, type ResumePlan } from '../shared/journal.js'

/**
 * The worker's side of the journal (shared/journal.ts). One descriptor,
 * opened on first use and kept.
 *
 * A `run` line must be on disk before the run's code starts: a thread that
 * spins from its first line can write nothing after it. Other lines (a run
 * ended, a test started or finished) are gathered and written with the next
 * `run` line, or on the next turn of the event loop, whichever comes first:
 * one write(2) per test instead of four. What a SIGKILL can take is at most
 * the lines of the current macrotask, which never include the `run` line of
 * the code being killed.
 */
// Captured at load, as a test may replace them (vi.spyOn(fs, 'writeSync')).
const fsOpenSync = openSync
const fsCloseSync = closeSync
const fsReadFileSync = readFileSync
const fsWriteSync = writeSync
const fsReadSync = readSync
const fsFstatSync = fstatSync
const bufferAlloc = Buffer.alloc.bind(Buffer)
const processOnce = process.once.bind(process)

let fd: number | null | undefined
/** The main process's notes, opened with the journal: a test that removes the scratch directory does not take them away. */
let notesFd: number | null = null
let pending: string[] = []
let flushQueued = false

/**
 * Where the pool put this worker's files, read once at load: the test's code
 * may replace `process.env` later, and what it holds then is the test's, not
 * the watchdog's.
 */
let files = { journal: process.env[ENV_JOURNAL], notes: process.env[ENV_NOTES], resume: process.env[ENV_RESUME], hostInspector: process.env[ENV_HOST_INSPECTOR] !== undefined }

/** The worker's variables as set by the watchdog's pool at start. */
export function workerFiles(): Readonly<typeof files> {
  return files
}

/** Under a pool other than the watchdog's, the variables were an outer environment's leftovers: none of them is this worker's. */
export function forgetWorkerFiles(): void {
  files = { journal: undefined, notes: undefined, resume: undefined, hostInspector: false }
}

function descriptor(): number | null {
  if (fd === undefined) {
    const file = files.journal
    fd = null
    if (file) {
      try {
        fd = fsOpenSync(file, 'a')
      } catch {
        fd = null
      }
      try {
        notesFd = files.notes ? fsOpenSync(files.notes, 'r') : null
      } catch {
        notesFd = null
      }
      append({ kind: 'journal', version: JOURNAL_VERSION })
      // A worker that exits on its own (process.exit in a test, the end of the run) leaves no line behind.
      processOnce('exit', flush)
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
  flush()
  for (const open of [fd, notesFd]) {
    if (typeof open !== 'number') continue
    try {
      fsCloseSync(open)
    } catch {
      // Already closed.
    }
  }
  fd = undefined
  notesFd = null
}

/** `now`: written before returning (a run about to start), with everything gathered before it. */
export function append(line: JournalLine, now = false): void {
  if (descriptor() === null) return
  let text: string
  try {
    text = JSONStringify(line)
  } catch {
    // A result that cannot be serialized (a cycle, a BigInt): keep the line, drop what cannot be written.
    text = JSONStringify(jsonSafe(line))
  }
  ArrayPrototypePush(pending, text + '\n')
  if (now) flush()
  else if (!flushQueued) {
    flushQueued = true
    realSetImmediate(flush)
  }
}

export function flush(): void {
  flushQueued = false
  if (pending.length === 0 || typeof fd !== 'number') return
  const text = ArrayPrototypeJoin(pending, '')
  pending = []
  try {
    fsWriteSync(fd, text)
  } catch {
    // The disk is gone: the run goes on without the journal.
  }
}

/** `retries` and `repeats`: the test's own, before a resumed worker cuts them down to what is left. */
export function journalTest(test: RunnerTestCase, killAfter: number | null, retries: number, repeats: number): void {
  append({ kind: 'test', test: test.id, at: DateNow(), killAfter, file: test.file.filepath, name: fullTestName(test), ...(retries > 0 ? { retries } : {}), ...(repeats > 0 ? { repeats } : {}) })
}

export function journalTry(test: RunnerTestCase, attempt: { retry: number; repeat: number; retried: number }): void {
  append({ kind: 'try', test: test.id, retry: attempt.retry, ...(attempt.repeat > 0 ? { repeat: attempt.repeat } : {}), ...(attempt.retried > 0 ? { retried: attempt.retried } : {}) })
}

export function journalResult(test: RunnerTestCase): void {
  if (!test.result) return
  const { annotations, artifacts } = test as { annotations?: unknown[]; artifacts?: unknown[] }
  append({
    kind: 'result',
    test: test.id,
    result: test.result as RecordedResult,
    ...(ObjectKeys(test.meta).length > 0 ? { meta: test.meta as Record<string, unknown> } : {}),
    ...(annotations?.length ? { annotations } : {}),
    ...(artifacts?.length ? { artifacts } : {}),
  })
}

/** The main process's notes to this worker (shared/journal.ts, HostNote). */
export function hostNotes(): HostNote[] {
  try {
    if (notesFd !== null) {
      const bytes = bufferAlloc(fsFstatSync(notesFd).size)
      const read = fsReadSync(notesFd, bytes, 0, bytes.length, 0)
      return parseNotes(bytes.toString('utf8', 0, read))
    }
    return files.notes ? parseNotes(fsReadFileSync(files.notes, 'utf8')) : []
  } catch {
    return []
  }
}

let plan: ResumePlan | null | undefined

/** The resume plan this worker was started with, if it replaces a dead one. */
export function resumePlan(): ResumePlan | null {
  if (plan === undefined) {
    const file = files.resume
    plan = file ? (JSONParse(fsReadFileSync(file, 'utf8')) as ResumePlan) : null
  }
  return plan
}

/** The file cannot be resumed again: why, and the error it fails with. */
export function notRunOf(file: string): ResumePlan['notRun'][string] | undefined {
  const p = resumePlan()
  return p?.notRun[file] ?? p?.notRun['*']
}

/**
 * What to report for a test instead of running it, on a resumed worker:
 * its recorded result, its failure, or "not run". Null: run it.
 */
export function restoredResult(test: RunnerTestCase): RecordedTest | null {
  const p = resumePlan()
  if (!p) return null
  const recorded = p.finished[test.id] ?? p.failed[test.id]
  if (recorded) return recorded
  const notRun = notRunOf(test.file.filepath)
  if (notRun) return { result: { state: 'skip', note: notRun.reason } }
  return null
}
