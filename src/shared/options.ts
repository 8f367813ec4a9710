import { WatchdogOptionError, type OptionSource } from './errors.js'
import { LEAK_MODES, type LeakMode } from './report.js'
import { MAX_TIMER_DELAY_MS } from './clock.js'
import { ArrayPrototypeIncludes, ArrayPrototypeJoin, ArrayPrototypeMap } from './intrinsics.js'

export interface WatchdogOptions {
  /** Budget per test in ms. Default: each test's own Vitest timeout. */
  killAfter?: number
  /** How long each stage waits for the test to stop before escalating, in ms. */
  grace?: number
  /** Path of the JSON hang report, relative to the project root. */
  outputFile?: string
  /** Budget for importing one test file (its top-level code), in ms. */
  importKillAfter?: number
  /** What to do with resources a test leaves running: 'off', 'report' (default) or 'fail' the test. */
  leaks?: LeakMode
  /** Budget of the whole run in ms: past it, everything still running is stopped through the ladder and the run fails. */
  runTimeout?: number
}

/**
 * 1 s lets cooperative code finish its `finally` blocks and close a server or
 * two after the abort, while a hung CI job still learns within seconds.
 */
export const DEFAULT_GRACE_MS = 1_000

/**
 * Importing a test file runs its whole module graph, cold caches and all; a
 * minute is far beyond any sane import on a loaded CI machine and still stops
 * a top-level loop long before the CI job's own timeout.
 */
export const DEFAULT_IMPORT_KILL_AFTER_MS = 60_000

/** What the worker needs to know, as it travels through Vitest's `provide`. */
export interface WorkerSettings {
  killAfter: number | null
  grace: number
  importKillAfter: number | null
  leaks: LeakMode
  /** Epoch ms at which every guarded run is stopped (runTimeout), or null. */
  runDeadline: number | null
  /** The project's name when the run has several (stop messages name it), else null. Set per run. */
  project?: string | null
}

export const PROVIDE_KEY = 'vitestWatchdog'

/**
 * A duration in ms: a finite number from 0 to MAX_TIMER_DELAY_MS. For budgets, 0 means "no budget" (as Vitest's own timeouts do).
 * A sum past the limit (budget + grace) is not an error: that stage never comes (clock.ts, stageTimer).
 */
export function checkDuration(option: string, value: unknown, source: OptionSource): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_TIMER_DELAY_MS) {
    throw new WatchdogOptionError(option, value, source, `a finite number of milliseconds from 0 to ${MAX_TIMER_DELAY_MS} (the longest timer Node can set)`)
  }
  return value
}

export function checkLeakMode(option: string, value: unknown, source: OptionSource): LeakMode {
  // Also checked in a worker and a page, per test: the built-ins of load time.
  if (!ArrayPrototypeIncludes(LEAK_MODES, value as LeakMode)) {
    throw new WatchdogOptionError(option, value, source, `one of ${ArrayPrototypeJoin(ArrayPrototypeMap(LEAK_MODES, (m) => `'${m}'`), ', ')}`)
  }
  return value as LeakMode
}

const KNOWN_OPTIONS = new Set(['killAfter', 'grace', 'leaks', 'outputFile', 'importKillAfter', 'runTimeout'])

export function resolveOptions(options: unknown): Required<Pick<WatchdogOptions, 'grace'>> & WatchdogOptions {
  const source = 'watchdog() plugin options'
  if (options === undefined) return { grace: DEFAULT_GRACE_MS }
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new WatchdogOptionError('options', options, source, 'an object')
  }
  const o = options as Record<string, unknown>
  for (const key of Object.keys(o)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw new WatchdogOptionError(key, o[key], source, `one of ${[...KNOWN_OPTIONS].join(', ')}`, 'unknown')
    }
  }
  const resolved: Required<Pick<WatchdogOptions, 'grace'>> & WatchdogOptions = {
    grace: o.grace === undefined ? DEFAULT_GRACE_MS : checkDuration('grace', o.grace, source),
  }
  if (o.killAfter !== undefined) resolved.killAfter = checkDuration('killAfter', o.killAfter, source)
  if (o.leaks !== undefined) resolved.leaks = checkLeakMode('leaks', o.leaks, source)
  if (o.runTimeout !== undefined) resolved.runTimeout = checkDuration('runTimeout', o.runTimeout, source)
  if (o.importKillAfter !== undefined) resolved.importKillAfter = checkDuration('importKillAfter', o.importKillAfter, source)
  if (o.outputFile !== undefined) {
    if (typeof o.outputFile !== 'string' || o.outputFile.trim() === '') {
      throw new WatchdogOptionError('outputFile', o.outputFile, source, 'a non-empty path string')
    }
    resolved.outputFile = o.outputFile
  }
  return resolved
}
