/**
 * Which test's code started the chain that created a resource, read from its
 * creation stack (never from async_hooks: ARCHITECTURE.md, "Facts the code
 * relies on").
 *
 * The runner calls every test body and hook through `awaited` (runner.ts), so
 * a resource created by a test's own code, before or after an await, has the
 * watchdog's frames below the user's: V8 adds "async" frames for the async
 * functions awaiting the running one. A callback (a timer, an 'exit' event)
 * or an async loop nobody awaits has no such frame: it belongs to the test
 * that last created a resource at the same line from its own code, which is
 * how a producer loop or a pool's respawn is traced to the test that started
 * it, long after that test ended.
 */
import { isUserCode, isWatchdogCode } from '../../shared/own-files.js'

/**
 * Frames captured per creation, at least. Vitest keeps V8's default of 10,
 * which a library between the creating call and the test body can use up,
 * hiding the runner's frames below; the walk stops at the stack's bottom, so
 * a shallow stack costs no more.
 */
const CREATION_FRAMES = 32

const captureStackTrace = Error.captureStackTrace
const returnSites = (_: Error, sites: NodeJS.CallSite[]) => sites

/**
 * The creation stack as V8's call sites, formatted only if it leaks
 * (check.ts); none when the test made Error's settings read-only (the
 * resource is then formatted from an error of its own, registry.ts).
 */
export function captureSites(below: Function): NodeJS.CallSite[] {
  const prepare = Error.prepareStackTrace
  const limit = Error.stackTraceLimit
  try {
    Error.prepareStackTrace = returnSites
    Error.stackTraceLimit = typeof limit === 'number' && limit > CREATION_FRAMES ? limit : CREATION_FRAMES
    const holder: { stack?: unknown } = {}
    captureStackTrace(holder, below)
    const sites = holder.stack
    return Array.isArray(sites) ? (sites as NodeJS.CallSite[]) : []
  } catch {
    return []
  } finally {
    try {
      Error.prepareStackTrace = prepare
      Error.stackTraceLimit = limit
    } catch {
      // Read-only: nothing was changed.
    }
  }
}

export interface Chain {
  /** The first frame in user code, "file:line:column" (generated positions): where it was created. */
  site: string | null
  /** The runner's frames are below the user's: a test's (or hook's) own code created it. */
  fromTest: boolean
}

export function chainOf(sites: readonly NodeJS.CallSite[]): Chain {
  let site: string | null = null
  for (const frame of sites) {
    const file = frame.getFileName() ?? ''
    if (site === null) {
      if (isUserCode(file)) site = `${file}:${frame.getLineNumber()}:${frame.getColumnNumber()}`
      continue
    }
    if (isWatchdogCode(file)) return { site, fromTest: true }
  }
  return { site, fromTest: false }
}

/** Creation site -> the test (task id) whose own code last created a resource there. */
const startedAt = new Map<string, string>()

/**
 * The test a resource belongs to, given the one test running now: that test
 * when its own code created it; otherwise the test that last created one at
 * the same line from its own code (learned here), else the running test.
 */
export function startedBy(chain: Chain, running: string): string {
  if (chain.site === null) return running
  if (chain.fromTest) {
    startedAt.set(chain.site, running)
    return running
  }
  return startedAt.get(chain.site) ?? running
}
