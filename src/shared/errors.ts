import { relative } from 'node:path'
import { STOPPED_CODE } from './report.js'
/**
 * One class per failure, each with a stable `code`. Vitest serializes errors
 * from the worker to the main process as plain objects, so reporters and users
 * must be able to recognise them by `name` and `code`, not by `instanceof`.
 */

export type Stage = 'abort' | 'interrupt' | 'kill'

/** Where a value came from, so an error can point the user at the right line of config. */
export type OptionSource = string

export class WatchdogOptionError extends Error {
  readonly code = 'ERR_WATCHDOG_INVALID_OPTION'
  constructor(
    readonly option: string,
    readonly value: unknown,
    readonly source: OptionSource,
    readonly expected: string,
    kind: 'invalid' | 'unknown' = 'invalid',
  ) {
    super(kind === 'unknown'
      ? `vitest-watchdog: unknown option ${option} (set to ${describeValue(value)}) in ${source}: expected ${expected}.`
      : `vitest-watchdog: invalid ${option} ${describeValue(value)} in ${source}: expected ${expected}.`)
    this.name = 'WatchdogOptionError'
  }
}

export class WatchdogConfigError extends Error {
  readonly code = 'ERR_WATCHDOG_CONFIG_CONFLICT'
  constructor(message: string) {
    super(`vitest-watchdog: ${message}`)
    this.name = 'WatchdogConfigError'
  }
}

/** The installed Vitest lacks an internal the watchdog needs (it supports Vitest ^4.1 and ^5). */
export class WatchdogUnsupportedVitestError extends Error {
  readonly code = 'ERR_WATCHDOG_UNSUPPORTED_VITEST'
  constructor(what: string) {
    super(`vitest-watchdog: this version of Vitest is not supported (${what}). Supported: vitest ^4.1 and ^5. Please report it with your Vitest version.`)
    this.name = 'WatchdogUnsupportedVitestError'
  }
}

export interface SourceLocation {
  file: string
  line: number
  column: number
}

export interface TestStoppedDetails {
  /** What was stopped, as the message's first words: "Test" (default), 'Hook "beforeEach"', 'Import of "a.test.ts"'. */
  subject?: string
  stage: Stage
  elapsedMs: number
  killAfter: number
  /** Where the budget came from, e.g. "test meta" or "plugin option killAfter". */
  budgetSource: string
  location: SourceLocation | null
  /** Why the ladder went past this stage, when it did not stop at the first try. */
  note?: string
  /** Project root: the message shows the location relative to it. */
  root?: string
}

/** The failure of a test that the watchdog had to stop. */
export class TestStoppedError extends Error {
  readonly code = STOPPED_CODE
  /** What was stopped: "Test", 'Hook "beforeEach" of test "…"', 'Import of "…"'. */
  readonly subject: string
  readonly stage: Stage
  readonly elapsedMs: number
  readonly killAfter: number
  readonly location: SourceLocation | null
  constructor(details: TestStoppedDetails) {
    super(stoppedMessage(details))
    this.name = 'TestStoppedError'
    this.subject = details.subject ?? 'Test'
    this.stage = details.stage
    this.elapsedMs = details.elapsedMs
    this.killAfter = details.killAfter
    this.location = details.location
  }
}

function stoppedMessage(d: TestStoppedDetails): string {
  const head = `${d.subject ?? 'Test'} stopped by vitest-watchdog at stage "${d.stage}" after ${Math.round(d.elapsedMs)}ms (killAfter ${d.killAfter}ms, from ${d.budgetSource}).`
  const file = d.location && d.root ? relative(d.root, d.location.file) || d.location.file : d.location?.file
  const where = d.location ? ` It was stuck at ${file}:${d.location.line}:${d.location.column}.` : ''
  const note = d.note ? ` ${d.note}` : ''
  return head + where + note
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value)
  if (typeof value === 'bigint') return `${value}n`
  try {
    return `${JSON.stringify(value)} (${typeof value})`
  } catch {
    return `(${typeof value})`
  }
}
