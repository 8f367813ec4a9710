/**
 * One class per failure, each with a stable `code`. Vitest serializes errors
 * from the worker to the main process as plain objects, so reporters and users
 * must be able to recognise them by `name` and `code`, not by `instanceof`.
 */
import { describeStop, type SourceLocation, type Stage, type Stop, type StopReason } from './stop.js'

export type { SourceLocation, Stage } from './stop.js'

export const STOPPED_CODE = 'ERR_WATCHDOG_TEST_STOPPED'
export const CRASHED_CODE = 'ERR_WATCHDOG_WORKER_CRASHED'
export const LEAK_CODE = 'ERR_WATCHDOG_LEAK'

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

/** The error as a plain object, the way Vitest sends it to the main process (a resumed result is built on the host). */
export function serializeStop(stop: Stop, root?: string): Record<string, unknown> {
  const error = new TestStoppedError(stop, root)
  return { name: error.name, code: error.code, message: error.message, stack: error.stack, stop: error.stop }
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
