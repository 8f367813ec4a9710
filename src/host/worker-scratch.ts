/**
 * The files the main process shares with one worker, in a scratch directory
 * of its own: the worker's journal, the main process's notes to it, and the
 * resume plan of a replacement worker (formats: shared/journal.ts). The
 * directory is registered (process-registry.ts), so it goes with the worker
 * or, at the latest, with the main process.
 *
 * The journal and the notes are created here and kept open on both sides
 * (the worker opens them before any test code runs): a test, or a tmp
 * cleaner, that removes the directory takes their names, not the files.
 */
import { closeSync, fstatSync, mkdtempSync, openSync, readSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CHILD_MARK } from '../shared/child-mark.js'
import { ENV_JOURNAL, ENV_NOTES, ENV_RESUME, WORKER_ENV, type HostNote, type ResumePlan } from '../shared/journal.js'
import { registerScratch } from './process-registry.js'

export interface Scratch {
  dir: string
  journal: string
  /** The main process's notes for the worker (HostNote). */
  notes: string
  /** The worker's environment: the user's, with the watchdog's variables pointing here. */
  env: Partial<NodeJS.ProcessEnv>
  /** A replacement's resume plan (written by writePlan before the worker is sent any request), or null. */
  plan: string | null
  /** This process's descriptors: the journal read, the notes appended to. Closed by closeScratch. */
  fds: { journal: number; notes: number } | null
}

/** `resume`: the worker replaces a dead one, and reads its plan (writePlan) when it runs the file. */
export function createScratch(userEnv: Partial<NodeJS.ProcessEnv>, resume = false): Scratch {
  const dir = mkdtempSync(join(tmpdir(), 'vitest-watchdog-'))
  registerScratch(dir)
  const journal = join(dir, 'journal.jsonl')
  const notes = join(dir, 'notes.jsonl')
  // Only what the watchdog sets: a VITEST_WATCHDOG_* in the user's environment must not reach the worker.
  const env: Partial<NodeJS.ProcessEnv> = { ...userEnv }
  for (const name of [...WORKER_ENV, CHILD_MARK]) delete env[name]
  env[ENV_JOURNAL] = journal
  env[ENV_NOTES] = notes
  const plan = resume ? join(dir, 'resume.json') : null
  if (plan) env[ENV_RESUME] = plan
  const fds = { journal: openSync(journal, 'a+'), notes: openSync(notes, 'a') }
  return { dir, journal, notes, plan, env, fds }
}

/** Writes a replacement's resume plan, where its environment points. */
export function writePlan(scratch: Scratch, plan: ResumePlan): void {
  if (!scratch.plan) throw new Error(`${scratch.dir} is not a replacement's`)
  writeFileSync(scratch.plan, JSON.stringify(plan))
}

/** Leaves a note the worker reads when a run ends past its deadline. Throws when it cannot be written: the stop then kills the worker instead. */
export function writeNote(scratch: Scratch, note: HostNote): void {
  if (!scratch.fds) throw new Error(`the notes of ${scratch.dir} are closed`)
  const line = Buffer.from(`${JSON.stringify(note)}\n`)
  if (writeSync(scratch.fds.notes, line) !== line.length) throw new Error(`the note to ${scratch.dir} was cut short`)
}

/** The journal's size now (where the next lines will start), whether or not its name is still there. */
export function journalSize(scratch: Scratch): number {
  try {
    return scratch.fds ? fstatSync(scratch.fds.journal).size : 0
  } catch {
    return 0
  }
}

/** The journal's text from byte `from` on, whether or not its name is still there. */
export function readJournal(scratch: Scratch, from: number): string {
  if (!scratch.fds) return ''
  const bytes = Buffer.alloc(Math.max(0, journalSize(scratch) - from))
  const read = readSync(scratch.fds.journal, bytes, 0, bytes.length, from)
  return bytes.toString('utf8', 0, read)
}

/** Closes this process's descriptors (the directory itself is removed by process-registry.ts). */
export function closeScratch(scratch: Scratch): void {
  const { fds } = scratch
  scratch.fds = null
  for (const fd of fds ? [fds.journal, fds.notes] : []) {
    try {
      closeSync(fd)
    } catch {
      // Already closed.
    }
  }
}
