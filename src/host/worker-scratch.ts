/**
 * The files the main process shares with one worker, in a scratch directory
 * of its own: the worker's journal, the main process's notes to it, and the
 * resume plan of a replacement worker (formats: shared/journal.ts). The
 * directory is registered (process-registry.ts), so it goes with the worker
 * or, at the latest, with the main process.
 */
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs'
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
}

export function createScratch(userEnv: Partial<NodeJS.ProcessEnv>, plan?: ResumePlan): Scratch {
  const dir = mkdtempSync(join(tmpdir(), 'vitest-watchdog-'))
  registerScratch(dir)
  const journal = join(dir, 'journal.jsonl')
  const notes = join(dir, 'notes.jsonl')
  // Only what the watchdog sets: a VITEST_WATCHDOG_* in the user's environment must not reach the worker.
  const env: Partial<NodeJS.ProcessEnv> = { ...userEnv }
  for (const name of [...WORKER_ENV, CHILD_MARK]) delete env[name]
  env[ENV_JOURNAL] = journal
  env[ENV_NOTES] = notes
  if (plan) {
    const planFile = join(dir, 'resume.json')
    writeFileSync(planFile, JSON.stringify(plan))
    env[ENV_RESUME] = planFile
  }
  return { dir, journal, notes, env }
}

/** Leaves a note the worker reads when a run ends past its deadline. */
export function writeNote(scratch: Scratch, note: HostNote): void {
  appendFileSync(scratch.notes, `${JSON.stringify(note)}\n`)
}
