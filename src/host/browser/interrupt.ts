/**
 * Stage interrupt in browser mode: from the main process, over the Chrome
 * DevTools Protocol session the provider opens on the page
 * (`provider.getCDPSession`; with Playwright's Chromium a same-origin tester
 * iframe shares the page's renderer thread and session), pause the page, ask
 * the tester frame's endpoint (shared/browser-protocol.ts) whether the run may
 * be stopped, terminate only the running JavaScript, then tell the page the
 * verdict. The page and the rest of its file go on.
 */
import type { TestProject } from 'vitest/node'
import { BROWSER_ENDPOINT_KEY, type ClaimAnswer, type Verdict } from '../../shared/browser-protocol.js'
import type { SourceLocation } from '../../shared/stop.js'
import { originalStack, userLocation } from './source-map.js'

/**
 * A renderer that spins in JavaScript answers Debugger.pause within a few ms
 * (Chromium serves it through a V8 interrupt). One that has not answered in
 * 2 s is not running JavaScript: blocked in native code, frozen or crashed.
 * It goes to stage kill.
 */
export const CDP_ANSWER_BOUND_MS = 2_000

/** An idle page answers Runtime.evaluate at once; a blocked one never does. */
const IDLE_CHECK_BOUND_MS = 500

export interface CdpSession {
  send(method: string, params?: object): Promise<unknown>
  on(event: string, listener: (payload: never) => void): unknown
  off(event: string, listener: (payload: never) => void): unknown
  detach(): Promise<void>
}

interface CallFrame {
  callFrameId: string
  functionName: string
  url: string
  location: { scriptId: string; lineNumber: number; columnNumber: number }
}

interface Paused {
  callFrames: CallFrame[]
}

export type InterruptOutcome =
  /** `seq`: the run stopped, `restarted`: its concurrent siblings, whose clocks started again. */
  | { kind: 'stopped'; seq: number; restarted: number[]; location: SourceLocation | null }
  /** The run had ended by the time the page paused: nothing to do. */
  | { kind: 'ended' }
  /** Another frame of the page held the thread: its own deadline comes; this run is looked at again later. */
  | { kind: 'elsewhere' }
  /** The page paused with no user code on its stack, or outside the tester frames: looked at again later. */
  | { kind: 'no-user-frame' }
  /** The page never paused or never answered, or has no endpoint where it paused: stage kill. */
  | { kind: 'unanswered'; why: string }

class Unanswered extends Error {}

export function bounded<T>(promise: Promise<T>, what: string, ms = CDP_ANSWER_BOUND_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const bound = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Unanswered(`${what}: no answer within ${ms}ms`)), ms)
    timer.unref()
  })
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer))
}

/**
 * A page's debugger, enabled while the page is idle: Chromium answers
 * Debugger.enable only between tasks (only a few methods, Debugger.pause and
 * Runtime.terminateExecution among them, interrupt running JavaScript), so it
 * cannot be done once a test spins. Breakpoints are switched off: a
 * `debugger` statement in a test must not stop the page for nobody.
 */
export class PageDebugger {
  private waiting: ((event: Paused) => void) | null = null
  /** One stop at a time per page: they share its thread and this session's pause. */
  private queue: Promise<unknown> = Promise.resolve()
  /** Call frames name their script by id only: the URL each was served from, as the page parsed it. */
  private readonly scripts = new Map<string, string>()
  private constructor(private readonly cdp: CdpSession) {
    cdp.on('Debugger.scriptParsed', ((event: { scriptId: string; url: string }) => {
      if (event.url) this.scripts.set(event.scriptId, event.url)
    }) as (payload: never) => void)
    cdp.on('Debugger.paused', ((event: Paused) => {
      const waiting = this.waiting
      this.waiting = null
      if (waiting) waiting(event)
      else void cdp.send('Debugger.resume').catch(() => {})
    }) as (payload: never) => void)
  }

  static async open(openSession: () => Promise<CdpSession>): Promise<PageDebugger> {
    const cdp = await bounded(openSession(), 'opening a CDP session on the page')
    // Listening before Debugger.enable, which reports every script already parsed.
    const pageDebugger = new PageDebugger(cdp)
    await bounded(Promise.all([cdp.send('Debugger.enable'), cdp.send('Debugger.setBreakpointsActive', { active: false })]), 'Debugger.enable')
    return pageDebugger
  }

  /** Runs `fn` after every stop queued before it on this page. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn)
    this.queue = next.catch(() => {})
    return next
  }

  /** Pauses the page, claims run `seq` in the frame it paused in, terminates it and delivers the verdict. */
  async interrupt(project: TestProject, frame: string, seq: number): Promise<InterruptOutcome> {
    const session = this.cdp
    try {
      const paused = new Promise<Paused>((resolve) => (this.waiting = resolve))
      await bounded(session.send('Debugger.pause'), 'Debugger.pause')
      const callFrames = await bounded(paused, 'the pause').then((event) => event.callFrames, async (error: unknown) => {
        // No pause: blocked outside JavaScript, or idle (no JavaScript ran
        // since the request; the run's own timers end it). Only a blocked
        // page also leaves Runtime.evaluate unanswered. The pause stays
        // requested; whatever runs next takes it, and it is resumed at once.
        this.waiting = null
        const idle = await bounded(session.send('Runtime.evaluate', { expression: '0' }), 'Runtime.evaluate', IDLE_CHECK_BOUND_MS).then(() => true, () => false)
        if (idle) return null
        throw error
      })
      if (!callFrames) return { kind: 'ended' }
      const top = callFrames[0]
      const endpoint = top
        ? ((await bounded(session.send('Debugger.evaluateOnCallFrame', { callFrameId: top.callFrameId, expression: `globalThis[${JSON.stringify(BROWSER_ENDPOINT_KEY)}]` }), 'finding the endpoint')) as { result: { objectId?: string } }).result.objectId
        : undefined
      if (!endpoint) {
        // Outside any tester frame (the orchestrator, between files): not this run's code now.
        await bounded(session.send('Debugger.resume'), 'Debugger.resume')
        return { kind: 'no-user-frame' }
      }
      const stack = callFrames.map((frame) => `    at ${frame.functionName || '<anonymous>'} (${this.scripts.get(frame.location.scriptId) ?? frame.url}:${frame.location.lineNumber + 1}:${frame.location.columnNumber + 1})`).join('\n')
      const location = userLocation(project, stack)
      if (!location) {
        // No user code on the stack: the page is in the watchdog's own code
        // (the run's end, due at this same moment, from its own timer) or in
        // Vitest's. Terminating there would break the runner: look again later.
        await bounded(session.send('Debugger.resume'), 'Debugger.resume')
        return { kind: 'no-user-frame' }
      }
      const stuck = { file: location.file, line: location.line }
      const claim = (await bounded(session.send('Runtime.callFunctionOn', { objectId: endpoint, functionDeclaration: 'function (frame, seq, stuck) { return this.claim(frame, seq, stuck) }', arguments: [{ value: frame }, { value: seq }, { value: stuck }], returnByValue: true }), 'claiming the run')) as { result: { value?: ClaimAnswer } }
      const answer = claim.result.value
      if (answer?.state !== 'claimed') {
        await bounded(session.send('Debugger.resume'), 'Debugger.resume')
        return { kind: answer?.state === 'elsewhere' ? 'elsewhere' : 'ended' }
      }
      // terminateExecution answers only once the page runs again: send both, then await both.
      await bounded(Promise.all([session.send('Runtime.terminateExecution'), session.send('Debugger.resume')]), 'terminating the running JavaScript')
      const verdict: Verdict = { location, stack, originalStack: originalStack(project, stack) }
      await bounded(session.send('Runtime.callFunctionOn', { objectId: endpoint, functionDeclaration: 'function (frame, seq, verdict) { return this.deliver(frame, seq, verdict) }', arguments: [{ value: frame }, { value: answer.seq }, { value: verdict }], returnByValue: true }), 'delivering the verdict')
      return { kind: 'stopped', seq: answer.seq, restarted: answer.restarted, location }
    } catch (error) {
      this.waiting = null
      return { kind: 'unanswered', why: error instanceof Error ? error.message : String(error) }
    }
  }
}
