/**
 * Stage interrupt, driven from the main process over an open CDP session on
 * the worker's test thread: pause it, find where it is stuck, ask the
 * worker's endpoint (shared/endpoint.ts) whose run that is and whether
 * terminating is safe, then terminate only the running JavaScript. When that
 * cannot be done, say why: the caller escalates to stage kill.
 */
import { endpointCall, type InspectAnswer, type RawFrame } from '../../shared/endpoint.js'
import { isUserCode } from '../../shared/own-files.js'
import type { Observation, SourceLocation, StopReason } from '../../shared/stop.js'
import type { CdpClient } from './cdp-client.js'

/**
 * How long a thread that answered Debugger.enable gets to take the pause. A
 * thread running JavaScript pauses within milliseconds (the request arrives
 * as a V8 interrupt); half a second is ample on a loaded 2-core machine, and
 * a thread that has not paused by then will not (the caller asks the kernel
 * what it does instead).
 */
const PAUSE_BOUND_MS = 500
/**
 * Answers of a thread that is paused or was just resumed (evaluate,
 * terminate, resume) come at once; a second is far beyond any real unwind and
 * still short for a CI log.
 */
const ANSWER_BOUND_MS = 1_000
/** Enough steps to leave Node's microtask pump and reach the next continuation. */
const MAX_STEPS_TO_USER_CODE = 50

/** An open session with the Debugger domain enabled, and the script table it reported. */
export interface Link {
  client: CdpClient
  /** CDP call frames carry a scriptId and often no url: Debugger.enable replays every script parsed so far. */
  scripts: Map<string, string>
  /**
   * Another client (a user's debugger) holds the thread paused: a session
   * that enables the Debugger while the thread is paused gets Debugger.paused
   * at once, and every session gets the pauses and resumes of the others.
   */
  heldElsewhere: boolean
  /** Set while a look drives the thread: the pauses then are the watchdog's own. */
  driving: boolean
}

/** Keeps `link.heldElsewhere` up to date; before Debugger.enable, so a thread paused already is seen. */
export function followPauses(link: Link): void {
  link.client.on('Debugger.paused', () => {
    if (!link.driving) link.heldElsewhere = true
  })
  link.client.on('Debugger.resumed', () => {
    link.heldElsewhere = false
  })
}

export type Decision =
  /** Nothing to stop: the run ended on its own meanwhile. */
  | { kind: 'none' }
  /** A debugger holds the thread paused: someone is stepping through it, and this stop leaves it alone. */
  | { kind: 'debugger' }
  /** Not sure the thread is stuck (it may be idle, running someone else's callback): look again shortly. `where`: the top frame seen. */
  | { kind: 'look-again'; where: string }
  /** Stuck code terminated; the worker fails the run and goes on. */
  | { kind: 'interrupted'; seq: number }
  | { kind: 'kill'; seq: number; reason: StopReason; location: SourceLocation | null; stack: string; asyncId?: number; observed?: Observation }

interface PausedEvent {
  callFrames: Array<{
    functionName: string
    url: string
    location: { scriptId: string; lineNumber: number; columnNumber: number }
  }>
}

/**
 * One look at the thread for run `seq`. On a first look (`before` null), a
 * pause with no user code on the stack, or inside an async callback, may be
 * an idle thread that happened to run a callback: the run is not claimed, and
 * the caller looks again once the worker's own abort stage had its chance, on
 * a new session (closing this one resumes the thread and drops any pending
 * step). On a later look, a pause inside an async callback is killed only if
 * it is in user code, or still in the same function as the look `before`:
 * a spin, not a thread busy with one callback after another.
 */
export async function interrupt(link: Link, seq: number, before: string | null, stillRunning: () => boolean): Promise<Decision> {
  if (link.heldElsewhere) return { kind: 'debugger' }
  link.driving = true
  try {
    return await look(link, seq, before, stillRunning)
  } finally {
    link.driving = false
  }
}

async function look(link: Link, seq: number, before: string | null, stillRunning: () => boolean): Promise<Decision> {
  const firstLook = before === null
  const { client } = link
  const waiting = client.once<PausedEvent>('Debugger.paused', PAUSE_BOUND_MS)
  client.post('Debugger.pause', {}, PAUSE_BOUND_MS).catch(() => {})
  let paused = await waiting.promise
  if (!paused) {
    if (!stillRunning()) return { kind: 'none' }
    if (link.heldElsewhere) return { kind: 'debugger' }
    // What it was doing instead is for the caller to ask the kernel.
    return { kind: 'kill', seq, reason: 'pause-not-taken', location: null, stack: '', observed: { step: 'pause', bound: PAUSE_BOUND_MS } }
  }
  paused = await stepIntoUserCode(link, paused)
  // The steps ran into an idle thread: nothing was stuck there. (The caller
  // closes this session before looking again, which clears the pending step.)
  if (!paused) return { kind: 'look-again', where: '' }
  const frames: RawFrame[] = paused.callFrames.map((frame) => ({
    functionName: frame.functionName,
    url: frame.url || link.scripts.get(frame.location.scriptId) || '',
    lineNumber: frame.location.lineNumber,
    columnNumber: frame.location.columnNumber,
  }))
  const top = frames[0]
  const where = top ? `${top.url}:${top.functionName}` : ''
  const answer = await evaluate<InspectAnswer>(client, endpointCall('inspect', seq, frames, firstLook))
  if (!answer || answer.state !== 'claimed') await resume(client)
  if (!answer) return { kind: 'kill', seq, reason: 'unconfirmed', location: null, stack: '', observed: { step: 'endpoint', bound: ANSWER_BOUND_MS } }
  switch (answer.state) {
    case 'ended':
      return { kind: 'none' }
    case 'handback':
    case 'no-user-frame':
      return { kind: 'look-again', where }
    case 'unsafe':
      if (firstLook || (!answer.location && where !== before)) return { kind: 'look-again', where }
      return { kind: 'kill', seq: answer.seq, reason: 'unsafe-async-callback', location: answer.location, stack: answer.stack, asyncId: answer.asyncId }
    case 'claimed': {
      // terminateExecution answers only after the termination happened, which
      // needs the resume: send both, then await both.
      const terminated = client.post('Runtime.terminateExecution', {}, ANSWER_BOUND_MS)
      const resumed = client.post('Debugger.resume', {}, ANSWER_BOUND_MS)
      const [termination] = await Promise.allSettled([terminated, resumed])
      if (termination.status === 'rejected') return { kind: 'kill', seq: answer.seq, reason: 'unconfirmed', location: answer.location, stack: answer.stack, observed: { step: 'terminate', bound: ANSWER_BOUND_MS } }
      await evaluate(client, endpointCall('deliver', answer.seq))
      return { kind: 'interrupted', seq: answer.seq }
    }
  }
}

/**
 * A loop of `await`s pauses inside Node's microtask pump
 * (processTicksAndRejections) with no user frame on the stack. Stepping in
 * reaches the next continuation, which is the user's code, so the report can
 * name the line of the loop. Bounded by steps and by time.
 */
async function stepIntoUserCode(link: Link, first: PausedEvent): Promise<PausedEvent | null> {
  let paused = first
  const isUser = (event: PausedEvent) => event.callFrames.some((f) => isUserCode(f.url || link.scripts.get(f.location.scriptId) || ''))
  const until = Date.now() + PAUSE_BOUND_MS
  for (let step = 0; step < MAX_STEPS_TO_USER_CODE && !isUser(paused) && Date.now() < until; step++) {
    const next = link.client.once<PausedEvent>('Debugger.paused', Math.max(1, until - Date.now()))
    await link.client.post('Debugger.stepInto', {}, ANSWER_BOUND_MS).catch(() => next.cancel())
    const event = await next.promise
    if (!event) return null
    paused = event
  }
  return paused
}

async function resume(client: CdpClient): Promise<void> {
  await client.post('Debugger.resume', {}, ANSWER_BOUND_MS).catch(() => {})
}

/** Runtime.evaluate runs in the worker's main context even when paused inside a vm context: the endpoint is on `process` (shared/endpoint.ts). */
async function evaluate<T>(client: CdpClient, expression: string): Promise<T | undefined> {
  try {
    const answer = await client.post<{ result?: { value?: unknown } }>('Runtime.evaluate', { expression, returnByValue: true, silent: true }, ANSWER_BOUND_MS)
    return answer.result?.value as T | undefined
  } catch {
    return undefined
  }
}
