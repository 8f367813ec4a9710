import type { RunnerTestCase, RunnerTestSuite } from 'vitest'
import { checkDuration, type WorkerSettings } from '../shared/options.js'
import { fullTestName } from './test-task.js'

export interface Budget {
  ms: number
  /** Where the value came from, for messages. */
  source: string
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
  return vitestTimeout
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
    if (own === undefined || !Object.is(own, value)) break
    origin = suite
  }
  if (origin) return `meta of describe "${origin.name}", inherited by ${where}`
  for (const tagName of (test as { tags?: string[] }).tags ?? []) {
    const tag = tags?.find((t) => t.name === tagName)
    if (tag?.meta && Object.is(tag.meta.killAfter, value)) return `meta of tag "${tagName}" (vitest config), used by ${where}`
  }
  return `meta of ${where}`
}
