/**
 * The journal: how a worker tells the main process what it runs.
 *
 * Each worker appends one JSON line per event, synchronously, to a file of its
 * own (its path in ENV_JOURNAL). Synchronous because it must survive a
 * SIGKILL at any moment, and because a thread that spins from the first line
 * of a test can send nothing after that: what it wrote before starting the
 * run is all the main process will ever know. The main process reads it while
 * the worker lives, for deadlines (host/ladder/journal-tail.ts), and after it
 * died, to resume the file (host/resume-plan.ts).
 *
 * Lines are self-describing (`kind`) and the first one, `{"kind":"journal"}`,
 * carries the format's version: the main process and its workers load the
 * same build, so a mismatch means a stale build, and parseJournal says so
 * instead of misreading the lines. Every journal and note line is parsed
 * here, nowhere else.
 */
import { WatchdogJournalVersionError } from './errors.js'
import { ArrayPrototypePush, JSONParse, SetPrototypeHas, StringPrototypeSplit, StringPrototypeStartsWith } from './intrinsics.js'


/** Worker environment: where the runner appends its journal. */
export const ENV_JOURNAL = 'VITEST_WATCHDOG_JOURNAL'
/** Worker environment: the resume plan of a replacement worker. */
export const ENV_RESUME = 'VITEST_WATCHDOG_RESUME'
/**
 * Worker environment: where the main process leaves notes for the worker, the
 * other way round from the journal. Read by the worker only when a run ends
 * past its deadline (rare): what the main process did to end it.
 */
export const ENV_NOTES = 'VITEST_WATCHDOG_NOTES'

/** The main process killed the child processes run `seq` was blocked on. */
export interface HostNote {
  kind: 'freed'
  seq: number
  pids: number[]
}

/** Every variable the watchdog's pool sets for a worker (see host/respawning-worker.ts). */
export const WORKER_ENV = [ENV_JOURNAL, ENV_RESUME, ENV_NOTES] as const

export const JOURNAL_VERSION = 1

export type SuiteHookKind = 'beforeAll' | 'afterAll'

/** What the main process is told of a guarded run, from a Node worker (RunLine) or a page (browser-protocol.ts, RunMessage). */
export interface RunAnnouncement {
  /** Unique within the worker (or the page's frame). */
  seq: number
  /** ms; 0: no budget, nothing to watch. */
  budget: number
  /** Where the budget came from, for the words of a stop decided in the main process. */
  budgetSource: string
  grace: number
  subject: string
  file: string
  name: string
}

/** A guarded run starts: a test body, a hook or the import of a file. */
export interface RunLine extends RunAnnouncement {
  kind: 'run'
  /** Epoch ms, from the worker's clock (the main process compares it with its own). */
  at: number
  /** The run can be told to abort (a test's signal). */
  hadSignal: boolean
  /** The test it belongs to (its body, a beforeEach/afterEach, onTestFinished). */
  test?: string
  /** A suite-level hook: the suite, and which hook. A worker dying there fails that suite only. */
  suite?: string
  hook?: SuiteHookKind
}

export type JournalLine =
  /** The first line of every journal: the format's version. */
  | { kind: 'journal'; version: number }
  /** A test starts (before its beforeEach hooks): a worker that dies from now on dies during this test. */
  | { kind: 'test'; test: string; at: number; file: string; name: string; killAfter: number | null; retries?: number; repeats?: number }
  /**
   * An attempt of a test starts, counted as the test's own (a resumed worker
   * adds what earlier workers ran): `retry` within `repeat` (0 for the
   * first), and `retried`, Vitest's retryCount so far. A killed attempt goes
   * on with the next retry, or else the next repeat.
   */
  | { kind: 'try'; test: string; retry: number; repeat?: number; retried?: number }
  /** A test ended, with its result as Vitest will send it: a replacement worker reports it without running it. */
  | ({ kind: 'result'; test: string } & RecordedTest)
  | RunLine
  /** A guarded run settled or was stopped. */
  | { kind: 'done'; seq: number }
  /** A run's clocks start again at `at`: a concurrent sibling had the thread while it spun. */
  | { kind: 'restart'; seq: number; at: number }
  /**
   * The worker spawned its first child (written before it): only then is the
   * process table searched for its children's marks when the worker stops.
   */
  | { kind: 'spawn' }

/** A test result as Vitest sends it: state, duration, errors as plain objects. */
export type RecordedResult = Record<string, unknown> & { state?: string }

/** What a finished test leaves besides its result, restored with it: its meta (leaks), annotations and artifacts. */
export interface RecordedTest {
  result: RecordedResult
  meta?: Record<string, unknown>
  annotations?: unknown[]
  artifacts?: unknown[]
}

const JOURNAL_KINDS: ReadonlySet<string> = new Set<JournalLine['kind']>(['journal', 'test', 'try', 'result', 'run', 'done', 'restart'])
const NOTE_KINDS: ReadonlySet<string> = new Set<HostNote['kind']>(['freed'])

/** How the writer starts every line (`kind` first): a line of a kind its reader does not want is not parsed at all. */
const KIND_PREFIX = '{"kind":"'

/**
 * Parses journal text; a line cut short by a kill is skipped. Throws
 * WatchdogJournalVersionError on a header of another version. `only`: the
 * kinds the caller wants (the header is always read); others may be left out.
 */
export function parseJournal(text: string, only?: ReadonlySet<JournalLine['kind']>): JournalLine[] {
  const prefixes = only ? [`${KIND_PREFIX}journal"`, ...[...only].map((kind) => `${KIND_PREFIX}${kind}"`)] : null
  const lines = parseLines<JournalLine>(text, JOURNAL_KINDS, prefixes)
  for (const line of lines) {
    if (line.kind === 'journal' && line.version !== JOURNAL_VERSION) throw new WatchdogJournalVersionError(line.version, JOURNAL_VERSION)
  }
  return lines
}

/** Parses the main process's notes to a worker; a line cut short is skipped. */
export function parseNotes(text: string): HostNote[] {
  return parseLines<HostNote>(text, NOTE_KINDS, null)
}

/**
 * One JSON object per line, each tagged with its `kind`: a line cut short (a
 * kill mid-write) or of a kind not in `kinds` is skipped, and so is, unparsed,
 * a line that starts as the writer starts a line but with none of `prefixes`.
 */
function parseLines<T extends { kind: string }>(text: string, kinds: ReadonlySet<string>, prefixes: readonly string[] | null): T[] {
  const lines: T[] = []
  // The worker parses notes: with the built-ins of load time, not a test's.
  const split = StringPrototypeSplit(text, '\n')
  for (let i = 0; i < split.length; i++) {
    const line = split[i]
    if (!line) continue
    if (prefixes && StringPrototypeStartsWith(line, KIND_PREFIX) && !startsWithAny(line, prefixes)) continue
    try {
      const parsed = JSONParse(line) as T | null
      if (parsed && SetPrototypeHas(kinds as Set<string>, parsed.kind)) ArrayPrototypePush(lines, parsed)
    } catch {
      // Cut short.
    }
  }
  return lines
}

function startsWithAny(line: string, prefixes: readonly string[]): boolean {
  for (let i = 0; i < prefixes.length; i++) if (StringPrototypeStartsWith(line, prefixes[i]!)) return true
  return false
}

/**
 * Where a test whose worker died goes on: attempt `retry` of repeat `repeat`,
 * after `retriesBefore` retries (Vitest's retryCount), with the errors of the
 * attempts that failed; `failed`: an earlier repeat failed for good, so the
 * test fails whatever the rest does.
 */
export interface Continuation {
  repeat: number
  retry: number
  retriesBefore: number
  errors: unknown[]
  failed: boolean
}

export interface ResumePlan {
  /** Tests that finished in an earlier worker, by task id. */
  finished: Record<string, RecordedTest>
  /** Tests that were running when a worker died: their failure, by task id. */
  failed: Record<string, RecordedTest>
  /** Tests that were running when a worker died with retries or repeats left: they go on in the fresh worker. */
  continued?: Record<string, Continuation>
  /** Suites whose beforeAll/afterAll was running when a worker died: the error they fail with, by suite id. Their tests are skipped. */
  failedSuites: Record<string, { kind: SuiteHookKind; error: Record<string, unknown> }>
  /**
   * Files that cannot be resumed again (their worker died outside any test),
   * by path ('*': the file could not be told): every test not in `finished`
   * or `failed` is reported as not run, and the file fails with `error`.
   */
  notRun: Record<string, { reason: string; error: Record<string, unknown> }>
  /** When each file began in the first worker that ran it (epoch ms), by path: a resumed file's duration counts from there. */
  fileStarted?: Record<string, number>
}
