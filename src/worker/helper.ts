/**
 * The helper thread: started by the runner inside each test worker process.
 * It sleeps on the shared RUN slot, and when a test passes its deadline
 * (killAfter + grace, so the abort stage had its chance) it claims the test,
 * pauses the test thread through the inspector, records where it was stuck and
 * terminates only the JavaScript that was running. When that cannot be done
 * safely, it escalates to killing the worker (see `escalateToKill`).
 *
 * It talks to the test thread through `connectToMainThread()`: no port is opened.
 */
import { appendFileSync, writeSync } from 'node:fs'
import { relative } from 'node:path'
import { BroadcastChannel, parentPort, workerData } from 'node:worker_threads'
import { createChannel, DEADLINE, FRAME_MAPPER_GLOBAL, RUN, SLOW_AT, type HelperData, type KillRecord, type RawFrame, type RunningTest, type Verdict } from './channel.js'
import { absoluteNow } from './clock.js'
import { MainThreadClient, WorkerThreadClient, type InspectorClient } from './inspector-client.js'
import { isWatchdogCode } from './own-files.js'
import { childrenStartedSince, killTree } from '../shared/process-tree.js'
import { THREAD_KILL_CHANNEL, type ThreadKillRequest } from '../shared/kill-log.js'

/**
 * Bound on the answers to terminate and resume. Termination answers once the
 * stack has unwound, which is immediate for JavaScript that was paused; a
 * second is far beyond any real unwind and still short for a CI log.
 */
const TERMINATE_ANSWER_BOUND_MS = 1_000
/** Enough steps to leave Node's microtask pump and reach the next continuation. */
const MAX_STEPS_TO_USER_CODE = 50
/** Debugger.disable after a stop: the thread already answered us, so it answers this at once. */
const DISABLE_BOUND_MS = 1_000

const data = workerData as HelperData
const channel = createChannel(data.sab)
/** How long the helper waits to find the test thread among the process's workers (threads pool). */
const ATTACH_BOUND_MS = 10_000
/**
 * The session on the test thread. Under forks it is opened once and kept (it
 * costs nothing while the Debugger domain is off). Under threads it goes
 * through Vitest's main thread and is opened for each stop and closed after it
 * (see WorkerThreadClient.close).
 */
let client: InspectorClient = new MainThreadClient()
let keptClient = true
if (data.threadId !== null) {
  await client.close()
  keptClient = false
}

async function openClient(): Promise<void> {
  if (keptClient) return
  client = await WorkerThreadClient.attach(data.threadId!, ATTACH_BOUND_MS)
  client.on('Debugger.scriptParsed', rememberScript)
}

async function closeClient(): Promise<void> {
  if (!keptClient) await client.close().catch(() => {})
}

/**
 * How often the helper checks that the main Vitest process is still there.
 * When it died without stopping its workers (SIGKILL, a crash), this worker
 * is an orphan: it kills itself and everything it spawned. Half a second keeps
 * the check cheap and the cleanup well within the 2 s users expect.
 */
const ORPHAN_CHECK_MS = 500
const parentPid = process.ppid

// This interval also holds the helper's event loop open: Atomics.waitAsync and
// the inspector session do not. The runner unref()s the Worker itself, so the
// helper never keeps the process alive.
setInterval(() => {
  // Under the threads pool this process is Vitest's own: never the helper's to kill.
  if (data.threadId === null && process.ppid !== parentPid) killTree(process.pid)
}, ORPHAN_CHECK_MS)

// CDP call frames carry a scriptId, and their url field is left empty: keep
// the script table. Debugger.enable replays every script parsed so far.
const scriptUrls = new Map<string, string>()
function rememberScript(script: { scriptId: string; url: string }): void {
  if (script.url) scriptUrls.set(script.scriptId, script.url)
}
if (keptClient) client.on('Debugger.scriptParsed', rememberScript)

let running: RunningTest | null = null
/** A test given back to the runner (see `stop`): never claimed again. */
let handedBack = 0

parentPort!.on('message', (test: RunningTest) => {
  running = test
})

interface PausedEvent {
  callFrames: Array<{
    callFrameId: string
    functionName: string
    url: string
    location: { scriptId: string; lineNumber: number; columnNumber: number }
  }>
}

function post(verdict: Verdict): void {
  parentPort!.postMessage(verdict)
}

let announcedSlow = 0

/**
 * SLOW: a run past half its budget is announced once, as cargo-nextest marks
 * slow tests. From this thread, written straight to the process's stderr:
 * the test thread may be spinning, and then it cannot tell anyone.
 */
function announceSlow(seq: number): void {
  announcedSlow = seq
  const test = running?.seq === seq ? running : null
  if (!test) return
  const elapsed = (absoluteNow() - test.startedAt) / 1000
  const what = test.subject === 'Test' ? '' : `${test.subject}: `
  try {
    writeSync(2, `vitest-watchdog: SLOW ${what}${relative(data.root, test.file) || test.file} > ${test.name} (${elapsed.toFixed(1)}s of its ${(test.killAfter / 1000).toFixed(1)}s budget)\n`)
  } catch {
    // Nowhere to write: nothing to announce.
  }
}

async function watch(): Promise<never> {
  for (;;) {
    const current = Atomics.load(channel.run, RUN)
    if (current > 0) {
      const slowIn = announcedSlow === current ? Infinity : channel.times[SLOW_AT]! - absoluteNow()
      if (slowIn <= 0) {
        announceSlow(current)
        continue
      }
      const remaining = Math.min(channel.times[DEADLINE]! - absoluteNow(), slowIn)
      if (remaining <= 0 && current === handedBack) {
        await waitForChange(current, Infinity)
        continue
      }
      if (channel.times[DEADLINE]! - absoluteNow() <= 0) {
        if (Atomics.compareExchange(channel.run, RUN, current, -current) === current) {
          try {
            await openClient()
            await stop(current)
          } catch {
            // The test thread could not be reached: it goes on, and the next deadline is watched.
          } finally {
            await closeClient()
          }
        }
        continue
      }
      await waitForChange(current, remaining)
    } else {
      await waitForChange(current, Infinity)
    }
  }
}

async function waitForChange(value: number, timeout: number): Promise<void> {
  const result = Atomics.waitAsync(channel.run, RUN, value, timeout)
  if (result.async) await result.value
}

/** The interrupt stage, for the test whose sequence number is `seq`. */
async function stop(seq: number): Promise<void> {
  const stageEnd = absoluteNow() + data.grace
  const left = () => Math.max(1, stageEnd - absoluteNow())
  let paused: PausedEvent | null = null
  try {
    await client.post('Debugger.enable', {}, left())
    const waiting = client.once<PausedEvent>('Debugger.paused', left())
    await client.post('Debugger.pause', {}, left()).catch((error) => {
      waiting.cancel()
      throw error
    })
    paused = await waiting.promise
    if (paused) paused = await stepIntoUserCode(paused, left)
  } catch {
    // Unanswered: the thread is blocked outside JavaScript.
  }
  if (!paused) {
    return escalateToKill(seq, 'The test thread did not pause within the grace period: it is blocked outside JavaScript (a system call such as execSync, or a native addon), so the worker was killed.', null)
  }
  const frames: RawFrame[] = paused.callFrames.map((f) => ({
    functionName: f.functionName,
    url: urlOf(f),
    lineNumber: f.location.lineNumber,
    columnNumber: f.location.columnNumber,
  }))
  if (isWatchdogCode(frames[0]?.url)) {
    // The thread was idle and the first JavaScript to run was the runner's own
    // end of the abort stage, late. Hand the test back while the thread is
    // still paused, so that timer wins its compare-and-swap, and do nothing else.
    handedBack = seq
    Atomics.store(channel.run, RUN, seq)
    await client.post('Debugger.resume', {}, DISABLE_BOUND_MS).catch(() => {})
    await client.post('Debugger.disable', {}, DISABLE_BOUND_MS).catch(() => {})
    return
  }
  const topFrame = paused.callFrames[0]?.callFrameId
  const asyncId = await executionAsyncIdAt(topFrame)
  if (asyncId !== 0) {
    const mapped = await mapOnTestThread(topFrame, frames)
    const why = asyncId === null
      ? 'Could not tell whether terminating this JavaScript is safe, so the worker was killed.'
      : data.threadId === null
        ? `It was stuck inside a timer, I/O or hook callback (async id ${asyncId}), where terminating JavaScript would crash Node, so the worker was killed.`
        : `It was stuck inside a timer, I/O or hook callback (async id ${asyncId}), where terminating the thread could abort the whole process, so the thread was abandoned: it keeps spinning, unref'd, until the run ends.`
    if (data.threadId !== null) {
      // Threads pool: the main thread terminates the thread, which a thread
      // paused in the debugger cannot honour. Let it run (spin) again first.
      await client.post('Debugger.resume', {}, DISABLE_BOUND_MS).catch(() => {})
      await client.post('Debugger.disable', {}, DISABLE_BOUND_MS).catch(() => {})
    }
    return escalateToKill(seq, why, mapped, asyncId === null || asyncId === 0)
  }
  // terminateExecution answers only after the termination happened, which
  // needs the resume: send both, then await both.
  const terminated = client.post('Runtime.terminateExecution', {}, TERMINATE_ANSWER_BOUND_MS)
  const resumed = client.post('Debugger.resume', {}, TERMINATE_ANSWER_BOUND_MS)
  const answers = await Promise.allSettled([terminated, resumed])
  await client.post('Debugger.disable', {}, DISABLE_BOUND_MS).catch(() => {})
  if (answers[0].status === 'rejected') {
    return escalateToKill(seq, 'The termination of the stuck JavaScript was not confirmed, so the worker was killed.', null)
  }
  post({ kind: 'interrupted', seq, frames })
}

/**
 * A loop of `await`s pauses inside Node's microtask pump
 * (processTicksAndRejections) with no user frame on the stack. Stepping in
 * reaches the next continuation, which is the user's code, so the report can
 * name the line of the loop. Bounded by steps and by the stage's time.
 */
async function stepIntoUserCode(first: PausedEvent, left: () => number): Promise<PausedEvent> {
  let paused = first
  for (let step = 0; step < MAX_STEPS_TO_USER_CODE && !paused.callFrames.some((f) => isUserUrl(urlOf(f))); step++) {
    const next = client.once<PausedEvent>('Debugger.paused', left())
    await client.post('Debugger.stepInto', {}, left()).catch(() => next.cancel())
    const event = await next.promise
    if (!event) break
    paused = event
  }
  return paused
}

function urlOf(frame: PausedEvent['callFrames'][number]): string {
  return frame.url || scriptUrls.get(frame.location.scriptId) || ''
}

function isUserUrl(url: string): boolean {
  return (url.startsWith('/') || url.startsWith('file://')) && !url.includes('/node_modules/') && !isWatchdogCode(url)
}

/**
 * Terminating is safe only when no async resource is on the stack: measured on
 * Node 20 and 24, terminating inside a timer, immediate or I/O callback
 * corrupts the async hook stack and takes the whole process down.
 */
async function executionAsyncIdAt(callFrameId: string | undefined): Promise<number | null> {
  const value = await evaluateOn(callFrameId, "process.getBuiltinModule('node:async_hooks').executionAsyncId()")
  return typeof value === 'number' ? value : null
}

/** Source-mapped location and stack, computed on the paused test thread where the source maps live. */
async function mapOnTestThread(callFrameId: string | undefined, frames: RawFrame[]): Promise<Mapped | null> {
  const value = await evaluateOn(callFrameId, `globalThis.${FRAME_MAPPER_GLOBAL}?.(${JSON.stringify(frames)})`)
  return value && typeof value === 'object' ? (value as Mapped) : null
}

async function evaluateOn(callFrameId: string | undefined, expression: string): Promise<unknown> {
  if (!callFrameId) return undefined
  try {
    const answer = await client.post<{ result: { value?: unknown } }>('Debugger.evaluateOnCallFrame', {
      callFrameId,
      expression,
      silent: true,
      returnByValue: true,
    }, DISABLE_BOUND_MS)
    return answer.result.value
  } catch {
    return undefined
  }
}

type Mapped = Pick<KillRecord, 'location' | 'stack'>

/**
 * The kill stage, from inside: record what we know where the main process
 * will find it, kill every process the test spawned, then this process.
 */
function escalateToKill(seq: number, reason: string, mapped: Mapped | null, terminable = true): void {
  const test = running?.seq === seq ? running : null
  if (data.killLogFile) {
    const record: KillRecord = { reason, pid: process.pid, at: Date.now(), test, location: mapped?.location ?? null, stack: mapped?.stack ?? '' }
    try {
      appendFileSync(data.killLogFile, JSON.stringify(record) + '\n')
    } catch {
      // The report loses this entry; the kill must still happen.
    }
  }
  if (data.threadId === null) {
    // This process, its group (when it leads one, as under the watchdog's pool) and every descendant.
    killTree(process.pid)
    return
  }
  // Threads pool: only the main thread can terminate a worker thread. The
  // watchdog's pool worker there listens on this channel; it kills the
  // children started since the test began (so an execSync returns), then
  // terminates the thread and resumes the file in a fresh one.
  const request: ThreadKillRequest = { threadId: data.threadId, pids: test ? childrenStartedSince(process.pid, test.startedAt) : [], terminate: terminable }
  // Not closed: closing right after posting can drop the message. The helper ends with its thread.
  const channel = new BroadcastChannel(THREAD_KILL_CHANNEL)
  channel.unref()
  channel.postMessage(request)
}

void watch()
