import type { SourceLocation, Stage, StopReason } from './stop.js'

/** One stopped test in the JSON report (the public contract: README, "The JSON report"). Paths are relative to the project root. */
export interface HangEntry {
  /** The Vitest project it ran in, set when the run has more than one project. */
  project?: string
  file: string
  test: string
  stage: Stage
  /** Why the ladder ended where it did: a stable code (see shared/stop.ts). */
  reason: StopReason
  killAfter: number
  elapsedMs: number
  location: SourceLocation | null
  stack: string
  /** The whole account of the stop: its stage, how long it took, what was observed and what that usually means (the test's error says it in short). */
  note?: string
  /** What was stopped when it was not the test body: 'Hook "afterAll" of describe "db"', 'Import of "a.test.ts"'. */
  what?: string
  /** Set when the worker died by itself during the test (a crash, not a stop): how it died. */
  crash?: { signal: string | null; exitCode: number | null }
  /** Set when a later attempt of the test passed (retry): it was stopped, then passed, and is no failure. */
  passedOnRetry?: true
}

/** A resource a test created and left running (the public contract: README, "The JSON report"). */
export interface LeakEntry {
  type: string
  location: SourceLocation | null
  stack: string
  /** What the watchdog does about it. */
  cleanup: string
  note?: string
}

export interface LeakReportEntry extends LeakEntry {
  /** The Vitest project it ran in, set when the run has more than one project. */
  project?: string
  file: string
  test: string
  hint: string
  /** The leak failed its test (leaks: 'fail'). */
  failed?: boolean
  /**
   * Set when it came from an earlier test (`file`/`test`, whose code started
   * the chain that created it: a loop or a pool it left running) and was
   * created after that test ended, while this test ran.
   */
  foundDuring?: { file: string; test: string }
}

/** A leak as the worker sends it in a test's meta: `startedBy` (absolute file, full name) names an earlier test it came from. */
export interface LeakMetaEntry extends LeakEntry {
  hint: string
  failed?: boolean
  startedBy?: { file: string; test: string }
}

/** A test in flight when the report was last written: a run killed from outside shows where it was. */
export interface RunningEntry {
  /** The Vitest project it runs in, set when the run has more than one project. */
  project?: string
  file: string
  test: string
  since: string
  elapsedMs: number
}

/** A test that has finished, with Vitest's state for it. */
export interface FinishedEntry {
  /** The Vitest project it ran in, set when the run has more than one project. */
  project?: string
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
