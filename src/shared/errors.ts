/**
 * One class per failure, each with a stable `code`. Vitest serializes errors
 * from the worker to the main process as plain objects, so reporters and users
 * must be able to recognise them by `name` and `code`, not by `instanceof`.
 */
import type { LeakReportEntry } from './report.js'
import { ArrayPrototypeJoin, ArrayPrototypeMap } from './intrinsics.js'
import { oneLine } from './one-line.js'
import { describeStop, type SourceLocation, type Stage, type Stop, type StopReason } from './stop.js'

export type { SourceLocation, Stage } from './stop.js'

export const STOPPED_CODE = 'ERR_WATCHDOG_TEST_STOPPED'
export const CRASHED_CODE = 'ERR_WATCHDOG_WORKER_CRASHED'
const LEAK_CODE = 'ERR_WATCHDOG_LEAK'

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

/** watchdog() where Vitest never calls a plugin (`test.plugins`): the tests it was meant to guard would run unguarded. */
export class WatchdogMisplacedPluginError extends Error {
  readonly code = 'ERR_WATCHDOG_MISPLACED_PLUGIN'
  constructor(where: string) {
    super(`vitest-watchdog: watchdog() is in ${where}, which Vitest ignores (it takes plugins only from the top-level \`plugins\` of a config or of an inline project): the tests it was meant to guard would run unguarded. Move it to \`plugins: [watchdog()]\`, next to \`test\`.`)
    this.name = 'WatchdogMisplacedPluginError'
  }
}

/** The installed Vitest lacks an internal the watchdog needs (it supports Vitest ^4.1 and ^5). */
/** A project of the run that the watchdog cannot guard: the run must not start half guarded (its hangs would hang silently). */
export class WatchdogUnguardedProjectError extends Error {
  readonly code = 'ERR_WATCHDOG_UNGUARDED_PROJECT'
  constructor(readonly project: string, reason: string) {
    super(`vitest-watchdog: project "${project}" is not guarded: ${reason}`)
    this.name = 'WatchdogUnguardedProjectError'
  }
}

export class WatchdogUnsupportedVitestError extends Error {
  readonly code = 'ERR_WATCHDOG_UNSUPPORTED_VITEST'
  constructor(what: string) {
    super(`vitest-watchdog: this version of Vitest is not supported (${what}). Supported: vitest ^4.1 and ^5. Please report it with your Vitest version.`)
    this.name = 'WatchdogUnsupportedVitestError'
  }
}

/**
 * A browser tester frame whose runner was created without the watchdog's page
 * code installed (its module failed to load): the frame must not run its
 * tests unguarded. The tester HTML's inline script throws it by name and code
 * (it cannot import this class), and Vitest reports it as the frame's error.
 */
export class WatchdogPageCodeError extends Error {
  readonly code = 'ERR_WATCHDOG_PAGE_CODE_MISSING'
  constructor(url: string) {
    super(`vitest-watchdog: its page code (${url}) did not load in this tester frame, so the frame's tests would run unguarded. Is the watchdog's package outside Vite's server.fs.allow?`)
    this.name = 'WatchdogPageCodeError'
  }
}

/**
 * The failure of a run that the watchdog had to stop, or whose worker died
 * under it. Its fields survive Vitest's serialization; `stop` is the whole
 * record the reporter builds the report from.
 */
export class TestStoppedError extends Error {
  // Own fields are what Vitest serializes (and prints after the message):
  // the code, and the stop itself. The rest reads from the stop.
  readonly code: typeof STOPPED_CODE | typeof CRASHED_CODE
  readonly stop: Stop
  constructor(stop: Stop, root?: string) {
    super(describeStop(stop, root))
    const crashed = stop.reason === 'crashed'
    this.name = crashed ? 'WorkerCrashError' : 'TestStoppedError'
    this.code = crashed ? CRASHED_CODE : STOPPED_CODE
    // Its frames are the error's stack: not carried twice.
    this.stop = { ...stop, stack: '' }
    this.stack = `${this.name}: ${this.message}${stop.stack ? `\n${stop.stack}` : ''}`
  }

  get subject(): string {
    return this.stop.subject
  }

  get stage(): Stage {
    return this.stop.stage
  }

  get reason(): StopReason {
    return this.stop.reason
  }

  get elapsedMs(): number {
    return this.stop.elapsedMs
  }

  get killAfter(): number {
    return this.stop.killAfter
  }

  get location(): SourceLocation | null {
    return this.stop.location
  }
}

/**
 * A journal (shared/journal.ts) written by another version of the watchdog:
 * the main process and its workers load different builds (a rebuild during
 * a run, or two installs). Its lines cannot be trusted to mean the same.
 */
export class WatchdogJournalVersionError extends Error {
  readonly code = 'ERR_WATCHDOG_JOURNAL_VERSION'
  constructor(readonly found: unknown, readonly expected: number) {
    super(`vitest-watchdog: a worker's journal has version ${describeValue(found)}, but this main process reads version ${expected}: the main process and the worker loaded different builds of vitest-watchdog. Reinstall or rebuild it and run again.`)
    this.name = 'WatchdogJournalVersionError'
  }
}

/**
 * A file whose worker died could not go on in a fresh worker: the replacement
 * did not start, the worker died again while only reporting, or Vitest did
 * not send what resuming replays. Vitest is told the worker exited.
 */
export class WatchdogResumeError extends Error {
  readonly code = 'ERR_WATCHDOG_RESUME_FAILED'
  constructor(why: string) {
    super(`vitest-watchdog: cannot resume this file in a fresh worker: ${why}.`)
    this.name = 'WatchdogResumeError'
  }
}

/**
 * Browser mode: a file whose page the watchdog closed (stage kill) could not
 * go on in a fresh page: the page did not open or connect in time, or the
 * fresh page ran the killed code again instead of failing it. Vitest's
 * browser pool then fails the run with this as the cause.
 */
export class WatchdogPageResumeError extends Error {
  readonly code = 'ERR_WATCHDOG_PAGE_RESUME_FAILED'
  constructor(why: string) {
    super(`vitest-watchdog: cannot resume this file in a fresh page: ${why}.`)
    this.name = 'WatchdogPageResumeError'
  }
}

/**
 * Threads pool: a stuck test thread did not end within `boundMs` of being
 * terminated. It is blocked in a system call that killing its child
 * processes did not end, and terminate() waits for the call to return.
 */
export class WatchdogThreadNotTerminatedError extends Error {
  readonly code = 'ERR_WATCHDOG_THREAD_NOT_TERMINATED'
  constructor(readonly test: string, readonly file: string, readonly boundMs: number) {
    super(`vitest-watchdog: the worker thread running "${oneLine(test)}" (${oneLine(file)}) could not be stopped within ${boundMs}ms: it is blocked in a system call that killing its child processes did not end. The rest of its file resumes in a fresh thread; the run will not wait for it.`)
    this.name = 'WatchdogThreadNotTerminatedError'
  }
}

/**
 * The worker of a file died outside any test (in a suite-less hook, the
 * import or the teardown): the file fails with this, and the tests that had
 * not run are reported as not run. A crash during a test is a
 * TestStoppedError of reason `crashed`, with the same name and code.
 */
export function fileCrashError(message: string): Record<string, unknown> {
  return serializeError({ name: 'WorkerCrashError', code: CRASHED_CODE, message, stack: `WorkerCrashError: ${message}` })
}

/**
 * `leaks: 'fail'`: the error a leaking test fails with, as Vitest sends it,
 * with the leaks themselves. Its stack points at the first leak's creation
 * (`root`: the project root the report's paths are relative to).
 */
export function leakError(leaks: Array<Pick<LeakReportEntry, 'type' | 'location' | 'hint'>>, root: string): ReturnType<typeof serializeError> & { leaks: unknown[] } {
  const list = ArrayPrototypeJoin(ArrayPrototypeMap(leaks, (e) => `  - ${e.type} created at ${e.location ? `${e.location.file}:${e.location.line}:${e.location.column}` : '(unknown)'}: ${e.hint}`), '\n')
  const message = `Test leaked ${leaks.length} resource${leaks.length === 1 ? '' : 's'} (vitest-watchdog, leaks: 'fail'):\n${list}`
  const first = leaks[0]?.location
  return { name: 'LeakError', code: LEAK_CODE, message, stack: `LeakError: ${message}${first ? `\n    at ${root}/${first.file}:${first.line}:${first.column}` : ''}`, leaks }
}

/** The error as a plain object, the way Vitest sends it to the main process (a resumed result is built on the host). */
export function serializeStop(stop: Stop, root?: string): Record<string, unknown> {
  const error = new TestStoppedError(stop, root)
  return { ...serializeError(error), stop: error.stop }
}

/** An error as Vitest sends it to the main process: a plain object with its name, code, message and stack. */
export function serializeError(error: { name: string; code: string; message: string; stack?: string }): { name: string; code: string; message: string; stack: string } {
  return { name: error.name, code: error.code, message: error.message, stack: error.stack ?? '' }
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
