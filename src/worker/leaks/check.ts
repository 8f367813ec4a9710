import type { SourceLocation } from '../../shared/errors.js'
import type { LeakEntry } from '../../shared/report.js'
import { realSetTimeout } from '../../shared/clock.js'
import { isWatchdogCode } from '../../shared/own-files.js'
import { aliveFor, aliveUnattributed, untrack, type Tracked } from './registry.js'

/**
 * A resource that is closing when the test ends (a socket end()ed, a child
 * that was just killed, a worker being terminated) is not a leak. The check
 * waits up to this long, one macrotask at a time, for such resources to go,
 * and only while some are closing: a clean test, and a test whose leaks are
 * plainly pending (a timer, a listening server), pay nothing.
 */
const SETTLE_BOUND_MS = 100
const SETTLE_STEP_MS = 5

/** Fix hints, Deno style: what the resource is and how a test lets go of it. */
const HINTS: Record<Tracked['type'], string> = {
  Timeout: 'a setTimeout that had not fired when the test ended: clearTimeout() it, or await it',
  Interval: 'a setInterval still running: clearInterval() it in the test or in afterEach',
  Immediate: 'a setImmediate that had not run: clearImmediate() it',
  Server: 'a server still listening: await new Promise((r) => server.close(r)) in the test or afterEach',
  Socket: 'a socket still open: socket.destroy() or end() it and wait for "close"',
  ChildProcess: 'a child process still running: kill it and wait for "exit"',
  Worker: 'a worker thread still running: await worker.terminate()',
  FSWatcher: 'a file watcher still open: watcher.close()',
  FileHandle: 'a file handle still open: await handle.close()',
}

/**
 * Alive resources that user code of test `id` created, after the settle.
 * Resources of Node and of libraries (fetch's keep-alive sockets, say) are
 * dropped before the settle, so they never make a test wait. Each leak is
 * then no longer tracked (reported once).
 */
export async function leaksOf(id: string): Promise<Tracked[]> {
  const alive = () => {
    const all = aliveFor(id)
    untrack(all.filter((entry) => !createdByUser(entry)))
    return all.filter(createdByUser)
  }
  let found = alive()
  for (let waited = 0; found.some((entry) => entry.closing()) && waited < SETTLE_BOUND_MS; waited += SETTLE_STEP_MS) {
    await new Promise((resolve) => realSetTimeout(resolve, SETTLE_STEP_MS))
    found = alive()
  }
  untrack(found)
  return found
}

export function unattributedLeaks(): Tracked[] {
  const found = aliveUnattributed()
  untrack(found)
  return found
}

/**
 * A stack frame in a file on disk: "at fn (/abs/file.ts:1:2)" or "at /abs/file.ts:1:2"
 * (or file:// URLs). Anchored on "(" or "at ", so Node's own frames such as
 * "node:internal/deps/undici/undici:2671:3" never pass for a path.
 */
const FRAME = /(?:\(|at )((?:file:\/\/)?\/[^()]*?):(\d+):(\d+)\)?$/

/** The report entry: where it was created (the first frame in user code), in original coordinates. */
export function describeLeak(entry: Tracked, root: string): LeakEntry & { hint: string } {
  const userLines = userFrames(entry)
  let location: SourceLocation | null = null
  const first = userLines[0] && FRAME.exec(userLines[0].trim())
  if (first) {
    const file = decodeURIComponent(first[1]!.replace(/^file:\/\//, ''))
    location = { file: file.startsWith(root) ? file.slice(root.length + 1) : file, line: Number(first[2]), column: Number(first[3]) }
  }
  return {
    type: entry.type,
    location,
    stack: `${entry.type} created at\n${userLines.join('\n')}`,
    hint: HINTS[entry.type],
    cleanup: entry.cleanup,
    ...(entry.owner === null ? { note: `created while ${entry.running} tests ran concurrently: it cannot be attributed to one of them` } : {}),
  }
}

/** Only resources created by user code count: Vitest's and Node's own timers are not the test's leaks. */
export function createdByUser(entry: Tracked): boolean {
  return userFrames(entry).length > 0
}

function userFrames(entry: Tracked): string[] {
  return (entry.origin.stack ?? '').split('\n').slice(1).filter((line) => {
    const match = FRAME.exec(line.trim())
    return !!match && !match[1]!.includes('/node_modules/') && !isWatchdogCode(match[1]!.replace(/^file:\/\//, ''))
  })
}
