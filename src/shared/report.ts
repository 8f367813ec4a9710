import type { SourceLocation, Stage } from './errors.js'

/** One stopped test in the JSON report (contract: shared/DESIGN.md §2). Paths are relative to the project root. */
export interface HangEntry {
  file: string
  test: string
  stage: Stage
  killAfter: number
  elapsedMs: number
  location: SourceLocation | null
  stack: string
  /** Why the ladder went as far as it did, when it went past `abort`. */
  note?: string
  /** What was stopped when it was not the test body: 'Hook "afterAll" of describe "db"', 'Import of "a.test.ts"'. */
  what?: string
  /** Set when the worker died by itself during the test (a crash, not a stop): how it died. */
  crash?: { signal: string | null; exitCode: number | null }
}

/** A resource a test created and left running (contract: shared/DESIGN.md §2). */
export interface LeakEntry {
  type: string
  location: SourceLocation | null
  stack: string
  /** What the watchdog does about it. */
  cleanup: string
  note?: string
}

export interface LeakReportEntry extends LeakEntry {
  file: string
  test: string
  hint: string
  /** The leak failed its test (leaks: 'fail'). */
  failed?: boolean
}

/** A test in flight when the report was last written: a run killed from outside shows where it was. */
export interface RunningEntry {
  file: string
  test: string
  since: string
  elapsedMs: number
}

/** A test that has finished, with Vitest's state for it. */
export interface FinishedEntry {
  file: string
  test: string
  state: string
}

export interface WatchdogReport {
  hangs: HangEntry[]
  leaks: LeakReportEntry[]
  /** Tests in flight when the report was written (empty once the run ended). */
  running?: RunningEntry[]
  /** Every test that finished, so a run killed from outside still shows how far it got. */
  finished?: FinishedEntry[]
}

/** Test meta key: when the test started (epoch ms), measured in the worker. */
export const STARTED_META_KEY = 'watchdogStartedAt'

export type LeakMode = 'off' | 'report' | 'fail'
export const LEAK_MODES: readonly LeakMode[] = ['off', 'report', 'fail']
/** Test meta key carrying a test's leaks to the main process (meta survives blob reports and shards). */
export const LEAKS_META_KEY = 'watchdogLeaks'
export const LEAK_CODE = 'ERR_WATCHDOG_LEAK'

/** Error fields the runner sets on a TestStoppedError; they survive Vitest's serialization. */
export interface SerializedStop {
  name: string
  code: string
  message: string
  stack?: string
  stage: Stage
  subject?: string
  elapsedMs: number
  killAfter: number
  location: SourceLocation | null
  note?: string
  signal?: string | null
  exitCode?: number | null
}

export const STOPPED_CODE = 'ERR_WATCHDOG_TEST_STOPPED'
export const CRASHED_CODE = 'ERR_WATCHDOG_WORKER_CRASHED'
