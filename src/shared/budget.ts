import type { RunnerTestCase, RunnerTestSuite } from 'vitest'
import { TestStoppedError } from './errors.js'
import { absoluteNow } from './clock.js'
import type { SourceLocation, Stage, Stop, StopReason } from './stop.js'
import { checkDuration, DEFAULT_IMPORT_KILL_AFTER_MS, type WorkerSettings } from './options.js'
import { fullTestName } from './test-task.js'
import { ArrayPrototypeFind, ObjectIs } from './intrinsics.js'

/**
 * How long a guarded run may take before the ladder starts, and which
 * setting said so: the same rules in a Node worker (worker/runner.ts) and in
 * a browser page (browser/setup.ts).
 */
export interface Budget {
  ms: number
  /** Where the value came from, for messages. */
  source: string
}

/** What a guard (worker/guard.ts in a Node worker, browser/guard.ts in a page) is told about the code it runs. */
export interface GuardSpecBase {
  /** Names what is stopped, first word of the error: "Test", 'Hook "beforeEach"', 'Import of "a.test.ts"'. */
  subject: string
  budget: Budget
  grace: number
  root: string
  /** Who is running, for the main process. */
  file: string
  name: string
  /**
   * Where the test is defined (its `test(` line), read only when a stop needs
   * it: it tells concurrent tests apart, and stands in for a stuck frame.
   */
  definition?: () => SourceLocation | undefined
  /** The abort stage: abort what the guarded code listens to. Absent: there is nothing to abort. */
  abort?: (reason: TestStoppedError) => void
  /** Called when the abort stage expires on an idle thread, before the guard gives up on the run. */
  expire?: () => void
}

/**
 * The error a guarded run fails with when the ladder stopped it: the same
 * shape from a Node worker and from a page. `found`: where it was stuck, when
 * the interrupt saw it; otherwise the definition's line stands in.
 */
export function stoppedError(spec: GuardSpecBase, began: number, stage: Stage, reason: StopReason, found: { location: SourceLocation | null; stack: string } | undefined, extra: Partial<Stop> = {}): TestStoppedError {
  const defined = found?.stack ? undefined : spec.definition?.()
  return new TestStoppedError({
    subject: spec.subject,
    stage,
    reason,
    killAfter: spec.budget.ms,
    budgetSource: spec.budget.source,
    grace: spec.grace,
    elapsedMs: absoluteNow() - began,
    location: found?.location ?? null,
    stack: found?.stack || (defined ? `    at ${defined.file}:${defined.line}:${defined.column}` : ''),
    hadSignal: !!spec.abort,
    ...extra,
  }, spec.root)
}

/** The budget of a test file's import. */
export function importBudget(settings: WorkerSettings): Budget {
  return settings.importKillAfter !== null
    ? { ms: settings.importKillAfter, source: 'watchdog({ importKillAfter })' }
    : { ms: DEFAULT_IMPORT_KILL_AFTER_MS, source: 'the default import budget' }
}

interface TagDefinition {
  name: string
  meta?: Record<string, unknown>
}

/**
 * The closest value wins: test meta, then describe meta (Vitest has already
 * merged both, plus tag meta, into `test.meta`), then the plugin option, then
 * the test's own Vitest timeout.
 */
export function resolveBudget(
  test: RunnerTestCase | RunnerTestSuite,
  settings: WorkerSettings,
  vitestTimeout: { ms: number; source: string },
  tags: readonly TagDefinition[] | undefined,
): Budget {
  const meta = test.meta as { killAfter?: unknown }
  if (meta.killAfter !== undefined) {
    const source = metaSource(test, meta.killAfter, tags)
    return { ms: checkDuration('meta.killAfter', meta.killAfter, source), source }
  }
  if (settings.killAfter !== null) return { ms: settings.killAfter, source: 'watchdog({ killAfter })' }
  return vitestBudget(vitestTimeout)
}

/**
 * Vitest runs with no timeout when it is 0, negative or Infinity, and so does
 * the ladder: budget 0, no stage is armed (a timer cannot take Infinity).
 */
export function vitestBudget(timeout: Budget): Budget {
  return Number.isFinite(timeout.ms) && timeout.ms > 0 ? timeout : { ...timeout, ms: 0 }
}

/**
 * Names the place that set `meta.killAfter`, so a bad value is easy to find.
 * Vitest merges tag, describe and test meta into one object, so this is a best
 * guess from the same value higher up: the closest describe that sets it, else
 * a tag that sets it, else the test itself.
 */
function metaSource(test: RunnerTestCase | RunnerTestSuite, value: unknown, tags: readonly TagDefinition[] | undefined): string {
  const kind = test.type === 'test' ? 'test' : 'describe'
  const where = `${kind} "${fullTestName(test)}" (${test.file?.name ?? 'unknown file'})`
  // Nested describes inherit the value: the one that set it is the outermost of an unbroken run.
  let origin: RunnerTestSuite | undefined
  for (let suite: RunnerTestSuite | undefined = test.suite; suite && suite !== (test.file as unknown); suite = suite.suite) {
    const own = (suite.meta as { killAfter?: unknown }).killAfter
    if (own === undefined || !ObjectIs(own, value)) break
    origin = suite
  }
  if (origin) return `meta of describe "${origin.name}", inherited by ${where}`
  for (const tagName of (test as { tags?: string[] }).tags ?? []) {
    const tag = tags ? ArrayPrototypeFind(tags, (t) => t.name === tagName) : undefined
    if (tag?.meta && ObjectIs(tag.meta.killAfter, value)) return `meta of tag "${tagName}" (vitest config), used by ${where}`
  }
  return `meta of ${where}`
}
