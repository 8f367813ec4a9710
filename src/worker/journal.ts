import { closeSync, fstatSync, openSync, readFileSync, readSync, writeSync } from 'node:fs'
import type { RunnerTestCase } from 'vitest'
import { realSetImmediate } from '../shared/clock.js'
import { fullTestName } from '../shared/test-task.js'
import { jsonSafe } from '../shared/json-safe.js'
import { ArrayPrototypeJoin, ArrayPrototypePush, DateNow, JSONParse, JSONStringify, NumberIsFinite, ObjectDefineProperty, ObjectKeys } from '../shared/intrinsics.js'
import { ENV_JOURNAL, ENV_NOTES, ENV_RESUME, JOURNAL_VERSION, WORKER_ENV, parseNotes, type HostNote, type JournalLine, type RunLine, type RecordedResult, type RecordedTest, type ResumePlan } from '../shared/journal.js'

/** The process as this module was loaded: a test may stub the global. */
const realProcess = process

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
const processOnce = realProcess.once.bind(realProcess)

let fd: number | null | undefined
/** The main process's notes, opened with the journal: a test that removes the scratch directory does not take them away. */
let notesFd: number | null = null
let pending: string[] = []
let flushQueued = false

/** What the main process started this worker with, as the runner first saw it (see workerStart). */
export interface WorkerStart {
  pid: number
  execArgv: readonly string[]
  env: Readonly<Partial<Record<(typeof WORKER_ENV)[number], string>>>
}

const START_KEY = Symbol.for('vitest-watchdog.worker-start')

/**
 * Read once per worker, before any test runs: a test may push to
 * `process.execArgv`, replace `process.env` or stub `process` itself, and
 * nothing it sets is the watchdog's to trust. Kept on the process, so a vm
 * pool's runner, evaluated again for each file, finds the first reading.
 */
export function workerStart(): WorkerStart {
  const holder = realProcess as unknown as Record<symbol, WorkerStart | undefined>
  let start = holder[START_KEY]
  if (!start) {
    const env: Partial<Record<(typeof WORKER_ENV)[number], string>> = {}
    for (const name of WORKER_ENV) if (realProcess.env[name] !== undefined) env[name] = realProcess.env[name]
    start = Object.freeze({ pid: realProcess.pid, execArgv: Object.freeze([...realProcess.execArgv]), env: Object.freeze(env) })
    ObjectDefineProperty(realProcess, START_KEY, { value: start })
  }
  return start
}

function descriptor(): number | null {
  if (fd === undefined) {
    const file = workerStart().env[ENV_JOURNAL]
    fd = null
    if (file) {
      try {
        fd = fsOpenSync(file, 'a')
      } catch {
        fd = null
      }
      try {
        const notes = workerStart().env[ENV_NOTES]
        notesFd = notes ? fsOpenSync(notes, 'r') : null
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
  appendText(text, now)
}

function appendText(text: string, now: boolean): void {
  ArrayPrototypePush(pending, text + '\n')
  if (now) flush()
  else if (!flushQueued) {
    flushQueued = true
    realSetImmediate(flush)
  }
}

// The lines written for every test (run, done, test, try) are put together by
// hand: the same text JSON.stringify gives, without walking an object.
const str = (value: string): string => JSONStringify(value)
/** A number as JSON.stringify writes it. */
const num = (value: number): string => (NumberIsFinite(value) ? '' + value : 'null')

/** A guarded run starts (shared/journal.ts, RunLine): on disk before this returns. */
export function journalRun(line: Omit<RunLine, 'kind'>): void {
  if (descriptor() === null) return
  let text = '{"kind":"run","seq":' + num(line.seq) + ',"at":' + num(line.at) + ',"budget":' + num(line.budget) +
    ',"budgetSource":' + str(line.budgetSource) + ',"grace":' + num(line.grace) + ',"subject":' + str(line.subject) +
    ',"file":' + str(line.file) + ',"name":' + str(line.name) + ',"hadSignal":' + (line.hadSignal ? 'true' : 'false')
  if (line.test !== undefined) text += ',"test":' + str(line.test)
  if (line.suite !== undefined) text += ',"suite":' + str(line.suite)
  if (line.hook !== undefined) text += ',"hook":' + str(line.hook)
  appendText(text + '}', true)
}

export function journalDone(seq: number): void {
  if (descriptor() === null) return
  appendText('{"kind":"done","seq":' + num(seq) + '}', false)
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
  if (descriptor() === null) return
  let text = '{"kind":"test","test":' + str(test.id) + ',"at":' + num(DateNow()) + ',"killAfter":' + (killAfter === null ? 'null' : num(killAfter)) +
    ',"file":' + str(test.file.filepath) + ',"name":' + str(fullTestName(test))
  if (retries > 0) text += ',"retries":' + num(retries)
  if (repeats > 0) text += ',"repeats":' + num(repeats)
  appendText(text + '}', false)
}

export function journalTry(test: RunnerTestCase, attempt: { retry: number; repeat: number; retried: number }): void {
  if (descriptor() === null) return
  let text = '{"kind":"try","test":' + str(test.id) + ',"retry":' + num(attempt.retry)
  if (attempt.repeat > 0) text += ',"repeat":' + num(attempt.repeat)
  if (attempt.retried > 0) text += ',"retried":' + num(attempt.retried)
  appendText(text + '}', false)
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
    const notes = workerStart().env[ENV_NOTES]
    return notes ? parseNotes(fsReadFileSync(notes, 'utf8')) : []
  } catch {
    return []
  }
}

let plan: ResumePlan | null | undefined

/** The resume plan this worker was started with, if it replaces a dead one. */
export function resumePlan(): ResumePlan | null {
  if (plan === undefined) {
    const file = workerStart().env[ENV_RESUME]
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
