import type { SourceLocation } from '../../shared/errors.js'
import type { LeakMetaEntry } from '../../shared/report.js'
import { absoluteNow, realSetTimeout } from '../../shared/clock.js'
import { isUserCode, isWatchdogCode } from '../../shared/own-files.js'
import { ArrayPrototypeFilter, ArrayPrototypeIncludes, ArrayPrototypeJoin, ArrayPrototypeMap, ArrayPrototypeSlice, formatSites, ownError, WeakMapPrototypeGet, WeakMapPrototypeSet, decodeURIComponentOwn, RegExpPrototypeExec, SafeNumber, SafePromise, stackOf, StringPrototypeIncludes, StringPrototypeReplace, StringPrototypeSlice, StringPrototypeSplit, StringPrototypeStartsWith, StringPrototypeTrim } from '../../shared/intrinsics.js'
import { aliveUnattributed, untrack, type Tracked } from './registry.js'

/**
 * A resource whose end was asked for and is under way when the test ends (a
 * socket end()ed, a child killed, a worker being terminated, a server closed
 * with connections still open) is not a leak if it goes within this bound;
 * one still alive after it is. Measured on Node 20, such ends take about 2 to 3 ms
 * (a socket end()ed to a local peer, a worker terminated, a server whose
 * last connection closes); the bound leaves room for a loaded machine.
 */
const CLOSING_BOUND_MS = 100
/**
 * How often the check looks again while something is closing. Short, because
 * the typical close ends within a few ms and a longer step would be paid in
 * full by every test that closes without awaiting; looking is cheap (a few
 * property reads per closing resource).
 */
const CLOSING_POLL_MS = 1

/** Fix hints, Deno style: what the resource is and how a test lets go of it. */
const HINTS: Record<Tracked['type'], string> = {
  Timeout: 'a setTimeout that had not fired when the test ended: clearTimeout() it, or await it',
  Interval: 'a setInterval still running: clearInterval() it in the test or in afterEach',
  Immediate: 'a setImmediate that had not run: clearImmediate() it',
  Server: 'a server still listening, or closed with connections still open: end its connections and await new Promise((r) => server.close(r)) in the test or afterEach',
  Socket: 'a socket still open: socket.destroy() or end() it and wait for "close"',
  ChildProcess: 'a child process still running: kill it and wait for "exit"',
  Worker: 'a worker thread still running: await worker.terminate()',
  FSWatcher: 'a file watcher still open: watcher.close()',
  FileHandle: 'a file handle still open: await handle.close()',
}

/**
 * At the end of a file: what was created while several tests ran at once
 * (nobody's alone) and is still alive, with the same bound for what is
 * closing.
 */
export function unattributedLeaks(): Promise<Tracked[]> {
  return leaksOf(aliveUnattributed())
}

/**
 * Of `all` (a test's resources still alive), the leaks: those that user code
 * created. One that is plainly pending (a timer, a listening
 * server, a running child nobody killed) is a leak at once: the test asked
 * nothing to end it, so waiting could only hide a leak that happens to end a
 * moment later. The check waits, bounded, only while some are closing, and
 * looks again only at those. A clean test, and a test whose leaks are all
 * pending, pay no wait.
 * Resources of Node and of libraries (fetch's keep-alive sockets, say) never
 * count, so they never make a test wait. What the check saw is no longer
 * tracked (each leak is reported once).
 */
export async function leaksOf(all: Tracked[]): Promise<Tracked[]> {
  const own = ArrayPrototypeFilter(all, createdByUser)
  untrack(ArrayPrototypeFilter(all, (entry) => !ArrayPrototypeIncludes(own, entry)))
  const pending = ArrayPrototypeFilter(own, (entry) => !entry.closing())
  let closing = ArrayPrototypeFilter(own, (entry) => !ArrayPrototypeIncludes(pending, entry))
  const deadline = absoluteNow() + CLOSING_BOUND_MS
  while (closing.length > 0 && absoluteNow() < deadline) {
    await new SafePromise((resolve) => realSetTimeout(resolve, CLOSING_POLL_MS))
    closing = ArrayPrototypeFilter(closing, (entry) => entry.alive())
  }
  // In creation order, as the test wrote them.
  const leaked = ArrayPrototypeFilter(own, (entry) => ArrayPrototypeIncludes(pending, entry) || ArrayPrototypeIncludes(closing, entry))
  untrack(own)
  return leaked
}

/**
 * A stack frame in a file on disk: "at fn (/abs/file.ts:1:2)" or "at /abs/file.ts:1:2"
 * (or file:// URLs). Anchored on "(" or "at ", so Node's own frames such as
 * "node:internal/deps/undici/undici:2671:3" never pass for a path.
 */
// `at file:line:col`, `at async file:line:col` (an anonymous async function awaiting), `at fn (file:line:col)`.
const FRAME = /(?:\(|at (?:async )?)((?:file:\/\/)?\/[^()]*?):(\d+):(\d+)\)?$/

/** Earlier tests' leaks already reported, by test and line: a loop left running creates one at each turn. */
const reportedFromEarlier = new Set<string>()

/** A leak from an earlier test (Tracked.from) that was not reported yet at that line. */
export function firstFromEarlier(entry: Tracked): boolean {
  if (!entry.from) return false
  const key = `${entry.from.file}\0${entry.from.name}\0${entry.site}`
  if (reportedFromEarlier.has(key)) return false
  reportedFromEarlier.add(key)
  return true
}

/** The report entry: where it was created (the first frame in user code), in original coordinates. */
export function describeLeak(entry: Tracked, root: string): LeakMetaEntry {
  const userLines = userFrames(entry)
  let location: SourceLocation | null = null
  const first = userLines[0] && RegExpPrototypeExec(FRAME, StringPrototypeTrim(userLines[0]))
  if (first) {
    const file = decodeURIComponentOwn(StringPrototypeReplace(first[1]!, /^file:\/\//, ''))
    location = { file: StringPrototypeStartsWith(file, root) ? StringPrototypeSlice(file, root.length + 1) : file, line: SafeNumber(first[2]), column: SafeNumber(first[3]) }
  }
  return {
    type: entry.type,
    location,
    stack: `${entry.type} created at\n${ArrayPrototypeJoin(userLines, '\n')}`,
    hint: HINTS[entry.type],
    cleanup: entry.cleanup,
    ...(entry.owner === null ? { note: `created while ${entry.running} tests ran concurrently: it cannot be attributed to one of them` } : {}),
    ...(entry.from ? { startedBy: { file: entry.from.file, test: entry.from.name } } : {}),
  }
}

/**
 * Only resources created by user code count: Vitest's and Node's own timers
 * are not the test's leaks. User code among the synchronous frames; or, where
 * every synchronous frame is a wrapper of the watchdog's (an API it patched,
 * resumed after an await: `await open(file)`), the first awaiting frame. What
 * a library awaited by a test creates inside (fetch's sockets and timers) has
 * the test only as an awaiting frame below its own: not the test's; nor is
 * what Node's fetch creates for its pool, whoever called it.
 */
const NODE_FETCH = 'node:internal/deps/undici/'

export function createdByUser(entry: Tracked): boolean {
  const lines = ArrayPrototypeSlice(StringPrototypeSplit(creationStack(entry), '\n'), 1)
  let onlyWatchdog = true
  for (let i = 0; i < lines.length; i++) {
    const line = StringPrototypeTrim(lines[i]!)
    const match = RegExpPrototypeExec(FRAME, line)
    const file = match?.[1]
    if (StringPrototypeStartsWith(line, 'at async ')) return onlyWatchdog && file !== undefined && isUserCode(file)
    // Node's own fetch (undici) keeps its connections and their timers in a global pool: Node's, not the test's.
    if (StringPrototypeIncludes(line, NODE_FETCH)) return false
    if (file !== undefined && isUserCode(file)) return true
    if (!isWatchdogCode(file)) onlyWatchdog = false
  }
  return false
}

const formatted = new WeakMap<Tracked, string>()

/**
 * The creation stack as Vitest formats an error's (its module runner's
 * prepareStackTrace maps it to the original source), once, when first needed;
 * or the stack of the error captured with it where Node formats it itself.
 */
function creationStack(entry: Tracked): string {
  if (entry.origin) return stackOf(entry.origin)
  let stack = WeakMapPrototypeGet(formatted, entry)
  if (stack === undefined) {
    const error = ownError('created here')
    const plain = () => `Error: created here${ArrayPrototypeJoin(ArrayPrototypeMap(entry.sites, (site) => `\n    at ${site}`), '')}`
    try {
      stack = formatSites(error, entry.sites) ?? plain()
    } catch {
      stack = plain()
    }
    WeakMapPrototypeSet(formatted, entry, stack)
  }
  return stack
}

function userFrames(entry: Tracked): string[] {
  return ArrayPrototypeFilter(ArrayPrototypeSlice(StringPrototypeSplit(creationStack(entry), '\n'), 1), (line) => {
    const match = RegExpPrototypeExec(FRAME, StringPrototypeTrim(line))
    return !!match && isUserCode(match[1]!)
  })
}
