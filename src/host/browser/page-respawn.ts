/**
 * Browser mode: the rest of a file goes on in a fresh page after the ladder
 * closed the page that ran it (stage kill, ladder.ts), the way a file goes on
 * in a fresh worker after a kill in Node (respawning-worker.ts).
 *
 * Vitest's browser pool runs one file at a time per page, through the page
 * orchestrator's `createTesters` (an RPC over the orchestrator's WebSocket).
 * Closing the page closes that socket, which rejects the call, and the pool
 * then fails the whole run. So every orchestrator of a guarded project is
 * wrapped as Vitest registers it (`project.browser.state.orchestrators`, a
 * Map keyed by session id): when the rejection follows a kill of the
 * watchdog, a fresh page is opened for the same session
 * (`project._openBrowserPage`, which Vitest's pool uses itself), and the same
 * file is run in it again with a plan (shared/browser-resume.ts, applied by
 * browser/resume.ts) that keeps the finished results and fails each killed
 * run with its stop. The pool sees the call succeed and goes on with its
 * next file, in the fresh page. Any other rejection (a page that crashed by
 * itself, a cancelled run) passes through untouched.
 */
import type { TestProject } from 'vitest/node'
import { BROWSER_RESUME_KEY, belongsToTest, type BrowserResumePlan, type FinishedRecords } from '../../shared/browser-resume.js'
import { realClearTimeout, unrefTimer } from '../../shared/clock.js'
import { WatchdogPageResumeError, WatchdogUnsupportedVitestError } from '../../shared/errors.js'
import { jsonSafe } from '../../shared/json-safe.js'
import type { RecordedTest, RunAnnouncement } from '../../shared/journal.js'
import type { Stop } from '../../shared/stop.js'
import { withProvidedString } from './provided-context.js'

/**
 * A fresh page in the browser that is already running loads Vitest's
 * orchestrator and connects in about a second; 30 s leaves room for a loaded
 * CI machine, and still ends the file with a clear error well before anyone
 * takes the run for hung.
 */
export const PAGE_OPEN_BOUND_MS = 30_000

interface RunRequest {
  files: Array<{ filepath: string }>
  providedContext: string
}

interface Orchestrator {
  createTesters(request: RunRequest): Promise<void>
}

/** Vitest's internals this module uses (Vitest 4.1 and 5 alike). */
interface BrowserInternals {
  browser?: { state?: { orchestrators?: unknown } }
  _openBrowserPage?: (sessionId: string, pool: { reject: (error: unknown) => void; parallel?: boolean }) => Promise<void>
  vitest: { isCancelling?: boolean; state: { filesMap?: unknown; catchError(error: unknown, type: string): void } }
}

interface TaskLike {
  id: string
  type: string
  name: string
  fullTestName?: string
  result?: { state?: string } & Record<string, unknown>
  meta?: Record<string, unknown>
  tasks?: TaskLike[]
}

interface FileLike extends TaskLike {
  projectName?: string
}

/** A kill of the ladder, waiting for the rejection it causes. */
interface Kill {
  run: RunAnnouncement
  stop: Stop
  /** Puts the stop into the report from the main process: the file could not carry it in a fresh page. */
  report: () => void
}

/** A `createTesters` under way through a wrapped orchestrator. */
interface Running {
  files: string[]
  kill?: Kill
  /** What the page's announcements said had finished. */
  finished?: Record<string, RecordedTest>
}

/** By session id: a session runs one request at a time. Session ids are random UUIDs, unique across projects. */
const running = new Map<string, Running>()
/** Sessions whose fresh page is opening: called with the new orchestrator as Vitest registers it. */
const awaited = new Map<string, (orchestrator: Orchestrator) => void>()
/** Orchestrator Maps already hooked: onBrowserInit can come more than once for a project (Vitest 5 restarts an idle provider). */
const hooked = new WeakSet<object>()

/**
 * Called when Vitest creates a guarded project's browser server (reporter
 * hook onBrowserInit), before any page opens. Fails loudly on a Vitest
 * without the internals used here: a page the ladder closes would otherwise
 * end the run. `connected` is told of each page whose orchestrator Vitest
 * registers (the ladder opens its CDP session then).
 */
export function guardBrowserPages(project: TestProject, connected: (sessionId: string) => void): void {
  const internals = project as unknown as BrowserInternals
  const orchestrators = internals.browser?.state?.orchestrators
  if (!(orchestrators instanceof Map) || typeof internals._openBrowserPage !== 'function' || !(internals.vitest.state.filesMap instanceof Map)) {
    throw new WatchdogUnsupportedVitestError('browser mode: project.browser.state.orchestrators (a Map), project._openBrowserPage or vitest.state.filesMap is missing; resuming a file after its page was closed needs them')
  }
  if (hooked.has(orchestrators)) return
  hooked.add(orchestrators)
  const set = orchestrators.set
  orchestrators.set = function (this: Map<unknown, unknown>, sessionId: unknown, orchestrator: unknown) {
    set.call(this, sessionId, wrap(project, String(sessionId), orchestrator as Orchestrator))
    awaited.get(String(sessionId))?.(orchestrator as Orchestrator)
    connected(String(sessionId))
    return this
  }
}

/**
 * Called by the ladder before it closes a page (stage kill). True: the
 * page's file is running through a wrapped orchestrator, and will go on in a
 * fresh page, whose run reports the stop with the killed test's result;
 * `report` is called only if it cannot. False: the caller reports the stop.
 */
export function pageKilled(sessionId: string, run: RunAnnouncement, stop: Stop, report: () => void): boolean {
  const session = running.get(sessionId)
  // Vitest's pools send one file per request: a request of several could not be replayed for one of them.
  if (!session || session.files.length !== 1 || session.files[0] !== run.file || session.kill) return false
  session.kill = { run, stop, report }
  return true
}

/** Called by the ladder for each run a page announces: the results it carries, for the plan if that page is killed. */
export function pageAnnounced(sessionId: string, run: RunAnnouncement & FinishedRecords): void {
  const session = run.finished && running.get(sessionId)
  if (session) Object.assign((session.finished ??= {}), run.finished)
}

function wrap(project: TestProject, sessionId: string, orchestrator: Orchestrator): Orchestrator {
  return new Proxy(orchestrator, {
    get(target, key) {
      if (key === 'createTesters') return (request: RunRequest) => runFile(project, sessionId, target, request)
      return Reflect.get(target, key) as unknown
    },
  })
}

async function runFile(project: TestProject, sessionId: string, first: Orchestrator, request: RunRequest): Promise<void> {
  const session: Running = { files: request.files.map((file) => file.filepath) }
  running.set(sessionId, session)
  let orchestrator = first
  let next = request
  let plan: BrowserResumePlan | undefined
  try {
    for (;;) {
      try {
        return await orchestrator.createTesters(next)
      } catch (error) {
        const kill = session.kill
        session.kill = undefined
        if (!kill) throw error
        if ((project as unknown as BrowserInternals).vitest.isCancelling) {
          kill.report()
          throw error
        }
        try {
          plan = nextPlan(project, plan, kill, session.finished)
          next = { ...request, providedContext: withProvidedString(request.providedContext, BROWSER_RESUME_KEY, JSON.stringify(jsonSafe(plan))) }
          orchestrator = await reopen(project, sessionId)
        } catch (failure) {
          kill.report()
          throw failure
        }
      }
    }
  } finally {
    // A kill whose page had already finished the file: nothing carries its stop but the report.
    session.kill?.report()
    if (running.get(sessionId) === session) running.delete(sessionId)
  }
}

/**
 * The plan of the next page: every kill so far, and the results Vitest has.
 * Each killed run fails in the fresh page without running, so each kill
 * moves the file forward; a run killed again means the fresh page ran it
 * anyway, and resuming again would loop.
 */
function nextPlan(project: TestProject, previous: BrowserResumePlan | undefined, kill: Kill, announced: Record<string, RecordedTest> | undefined): BrowserResumePlan {
  const { run, stop } = kill
  const killed = previous?.killed ?? []
  const file = testFile(project, run.file)
  const same = killed.filter((other) => other.file === run.file && other.subject === run.subject && other.name === run.name).length
  // Tests of one name in one file are told apart by their order: each may be killed once.
  const allowed = belongsToTest(run.subject) ? Math.max(1, countTests(file, run.name)) : 1
  if (same >= allowed) throw new WatchdogPageResumeError(`${run.subject === 'Test' ? `test "${run.name}"` : run.subject} was killed again in the fresh page, which was to fail it without running it`)
  return { file: run.file, finished: { ...previous?.finished, ...finishedTests(file), ...announced }, killed: [...killed, { file: run.file, subject: run.subject, name: run.name, stop }] }
}

function testFile(project: TestProject, path: string): FileLike | undefined {
  const files = ((project as unknown as BrowserInternals).vitest.state.filesMap as Map<string, FileLike[]>).get(path)
  return files?.find((file) => (file.projectName ?? '') === (project.name ?? ''))
}

/** Results that reached the main process through Vitest (the page's announcements may be missing some: a run that was not guarded). */
function finishedTests(file: FileLike | undefined): Record<string, RecordedTest> {
  const finished: Record<string, RecordedTest> = {}
  forEachTest(file, (test) => {
    const state = test.result?.state
    if (state === 'pass' || state === 'fail') finished[test.id] = { result: test.result!, ...(test.meta ? { meta: test.meta } : {}) }
  })
  return finished
}

function countTests(file: FileLike | undefined, name: string): number {
  let count = 0
  forEachTest(file, (test) => {
    if ((test.fullTestName || test.name) === name) count++
  })
  return count
}

function forEachTest(task: TaskLike | undefined, visit: (test: TaskLike) => void): void {
  for (const child of task?.tasks ?? []) {
    if (child.type === 'test') visit(child)
    else forEachTest(child, visit)
  }
}

/** Opens a fresh page for the session and waits, bounded, for Vitest to register its orchestrator. */
async function reopen(project: TestProject, sessionId: string): Promise<Orchestrator> {
  const internals = project as unknown as BrowserInternals
  const connected = new Promise<Orchestrator>((resolve) => awaited.set(sessionId, resolve))
  let fail: (error: Error) => void = () => {}
  const failed = new Promise<never>((_, reject) => (fail = reject))
  failed.catch(() => {})
  let opening = true
  const timer = unrefTimer(() => fail(new WatchdogPageResumeError(`the fresh page did not open and connect within ${PAGE_OPEN_BOUND_MS}ms`)), PAGE_OPEN_BOUND_MS)
  const reject = (error: unknown) => {
    // Vitest's pool would fail the run with it; while the page opens, the resume fails instead.
    if (opening) fail(new WatchdogPageResumeError(`the fresh page failed: ${describe(error)}`))
    else internals.vitest.state.catchError(error, 'Browser Error')
  }
  const opened = internals._openBrowserPage!(sessionId, { reject, parallel: false }).catch((error: unknown) => {
    throw new WatchdogPageResumeError(`the fresh page could not be opened: ${describe(error)}`)
  })
  try {
    await Promise.race([opened, failed])
    return await Promise.race([connected, failed])
  } finally {
    opening = false
    realClearTimeout(timer)
    awaited.delete(sessionId)
  }
}

function describe(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\.$/, '')
}
