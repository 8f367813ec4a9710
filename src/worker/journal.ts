import { appendFileSync, readFileSync } from 'node:fs'
import type { RunnerTestCase } from 'vitest'
import { ENV_JOURNAL, ENV_RESUME, type JournalLine, type RecordedResult, type ResumePlan } from '../shared/resume.js'

const journalFile = process.env[ENV_JOURNAL]

/**
 * Synchronous appends: the point of the journal is to survive a SIGKILL that
 * may come at any moment, so nothing may sit in a buffer.
 */
function append(line: JournalLine): void {
  if (!journalFile) return
  try {
    appendFileSync(journalFile, JSON.stringify(line) + '\n')
  } catch {
    // A result that cannot be serialized is rerun on resume rather than lost.
  }
}

export function journalStart(test: RunnerTestCase, killAfter: number | null): void {
  append({ start: test.id, at: Date.now(), killAfter, file: test.file.filepath, name: (test as { fullTestName?: string }).fullTestName || test.name })
}

export function journalEnd(test: RunnerTestCase): void {
  if (test.result) append({ end: test.id, result: test.result })
}

/** A suite-level hook (beforeAll/afterAll) starts and ends: see ResumePlan.failedSuites. */
export function journalHook(suiteId: string, kind: string): () => void {
  append({ hook: suiteId, kind, at: Date.now() })
  return () => append({ hookEnd: suiteId })
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
