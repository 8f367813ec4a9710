/**
 * Stage interrupt in browser mode, over the Chrome DevTools Protocol session
 * the provider opens on the page (`provider.getCDPSession`; with Playwright's
 * Chromium a same-origin tester iframe shares the page's renderer thread and
 * session). A page whose run is past its deadline and that does not answer
 * a trivial evaluation is running JavaScript: that JavaScript is terminated
 * (`Runtime.terminateExecution` interrupts running code), the CPU profile the
 * page records for the whole run says where it was (profile-stack.ts), and
 * the page's endpoint (shared/browser-protocol.ts) is told the verdict. The
 * page and the rest of its file go on.
 *
 * The page's debugger is never enabled: with a debugger attached V8 turns
 * its compilation cache off, and every tester frame then compiled all of
 * Vitest's client again (1.6x the wall time of plain browser mode). The
 * same session carries the page's announcements of its runs, through a
 * binding (one message each way is a WebSocket round trip through Vitest's
 * browser commands otherwise).
 */
import type { TestProject } from 'vitest/node'
import { BROWSER_BINDING, BROWSER_ENDPOINT_KEY, type BindingMessage, type StopAnswer, type Verdict } from '../../shared/browser-protocol.js'
import type { SourceLocation } from '../../shared/stop.js'
import { formatStack, stuckStack, type CpuProfile, type SampledFrame } from './profile-stack.js'
import { originalStack, userLocation } from './source-map.js'

/**
 * Termination reaches running JavaScript within a few ms (Chromium serves it
 * through a V8 interrupt). A page that has not answered in 2 s is not
 * running JavaScript: blocked in native code, frozen or crashed. It goes to
 * stage kill.
 */
export const CDP_ANSWER_BOUND_MS = 2_000

/**
 * A page between tasks answers an evaluation at once. One that has not in
 * 300 ms has been running the same task that long while a run is past its
 * deadline: that task is what keeps the run from ending.
 */
const BUSY_BOUND_MS = 300

/**
 * The profiler samples the page's stack every 10 ms: a stop waits at least
 * BUSY_BOUND_MS with the page busy, so the last samples fall in the stuck
 * code, and a sampling thread waking 100 times a second costs nothing
 * measurable (bench/README.md).
 */
const SAMPLE_INTERVAL_US = 10_000

/**
 * The profile grows by one sample per interval for as long as it runs; it is
 * started again at a new tester frame once this old, so it stays small.
 */
const PROFILE_RESTART_MS = 5 * 60_000

export interface CdpSession {
  send(method: string, params?: object): Promise<unknown>
  on(event: string, listener: (payload: never) => void): unknown
  off(event: string, listener: (payload: never) => void): unknown
  detach(): Promise<void>
}

export type InterruptOutcome =
  /** `seq`: the run stopped (among concurrent tests, the one whose code was stuck), `restarted`: its siblings, whose clocks started again. */
  | { kind: 'stopped'; seq: number; restarted: number[]; location: SourceLocation | null }
  /** The run had ended: nothing to do. */
  | { kind: 'ended' }
  /** The page is idle and the run still waits: the page's own timer, due now, ends it; looked at again later. */
  | { kind: 'waiting' }
  /** The page never answered, not even termination: stage kill. */
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

/** An expression calling a frame's endpoint in the registry on the top window (src/browser/setup.ts); a frame that is gone has ended its runs. */
function callEndpoint(frame: string, method: string, ...args: unknown[]): string {
  const endpoint = `globalThis[${JSON.stringify(BROWSER_ENDPOINT_KEY)}]?.[${JSON.stringify(frame)}]`
  return `(${endpoint}?.${method}(${args.map((arg) => JSON.stringify(arg)).join(', ')}) ?? ${method === 'state' ? "'ended'" : "{ state: 'ended' }"})`
}

export class PageSession {
  /** One stop at a time per page: they share its thread and its profile. */
  private queue: Promise<unknown> = Promise.resolve()
  private profileSince = Date.now()

  private constructor(private readonly cdp: CdpSession) {}

  /** Installs the binding the page announces its runs through, and starts the profile. */
  static async open(openSession: () => Promise<CdpSession>, onMessage: (message: BindingMessage) => void): Promise<PageSession> {
    const cdp = await bounded(openSession(), 'opening a CDP session on the page')
    cdp.on('Runtime.bindingCalled', ((event: { name: string; payload: string }) => {
      if (event.name !== BROWSER_BINDING) return
      try {
        onMessage(JSON.parse(event.payload) as BindingMessage)
      } catch {
        // Not ours to fail on: a page that sent nonsense gets no watch for that run, and its own timers still apply.
      }
    }) as (payload: never) => void)
    await bounded(Promise.all([
      cdp.send('Runtime.addBinding', { name: BROWSER_BINDING }),
      cdp.send('Profiler.enable').then(() => cdp.send('Profiler.setSamplingInterval', { interval: SAMPLE_INTERVAL_US })).then(() => cdp.send('Profiler.start')),
    ]), 'setting up the page session')
    return new PageSession(cdp)
  }

  /** Runs `fn` after every stop queued before it on this page. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn)
    this.queue = next.catch(() => {})
    return next
  }

  /** A new tester frame began: an old profile is dropped and started again. */
  frameBegan(): void {
    if (Date.now() - this.profileSince < PROFILE_RESTART_MS) return
    void this.exclusive(() => this.restartProfile().catch(() => {}))
  }

  private async restartProfile(): Promise<CpuProfile | null> {
    const stopped = (await bounded(this.cdp.send('Profiler.stop'), 'Profiler.stop')) as { profile?: CpuProfile }
    this.profileSince = Date.now()
    await bounded(this.cdp.send('Profiler.start'), 'Profiler.start')
    return stopped.profile ?? null
  }

  /** Terminates run `seq` of `frame` if the page is stuck in it, and gives the page the verdict. */
  async interrupt(project: TestProject, frame: string, seq: number): Promise<InterruptOutcome> {
    const session = this.cdp
    try {
      const state = await bounded(session.send('Runtime.evaluate', { expression: callEndpoint(frame, 'state', seq), returnByValue: true }), 'Runtime.evaluate', BUSY_BOUND_MS)
        .then((answer) => (answer as { result: { value?: string } }).result.value ?? 'ended', () => 'busy')
      if (state === 'ended') return { kind: 'ended' }
      if (state === 'running') return { kind: 'waiting' }
      // Busy: termination is answered once the running call has unwound. The
      // profile is asked for at once, so it ends as soon as the page is free;
      // what the page ran between the two answers is left out of it.
      const terminated = bounded(session.send('Runtime.terminateExecution'), 'Runtime.terminateExecution').then(() => performance.now())
      const profiled = this.restartProfile()
      profiled.catch(() => {})
      const terminatedAt = await terminated
      const profile = await profiled
      const stack = formatStack(await withColumns(profile ? stuckStack(profile, BUSY_BOUND_MS, performance.now() - terminatedAt, !blockCoverage(project)) : []))
      const location = userLocation(project, stack)
      const verdict: Verdict = { location, stack, originalStack: originalStack(project, stack) }
      const stuck = location ? { file: location.file, line: location.line } : null
      const answered = (await bounded(session.send('Runtime.evaluate', { expression: callEndpoint(frame, 'stop', seq, stuck, verdict), returnByValue: true }), 'delivering the verdict')) as { result: { value?: StopAnswer } }
      const answer = answered.result.value
      // Ended meanwhile: what was terminated was the page's next task, and it failed on its own.
      if (answer?.state !== 'stopped') return { kind: 'ended' }
      return { kind: 'stopped', seq: answer.seq, restarted: answer.restarted, location }
    } catch (error) {
      return { kind: 'unanswered', why: error instanceof Error ? error.message : String(error) }
    }
  }
}

/** Vitest's coverage-v8 collects a page's coverage through V8's block coverage, which puts a sample's line off. */
function blockCoverage(project: TestProject): boolean {
  const coverage = project.vitest.config.coverage as { enabled?: boolean; provider?: string }
  return coverage.enabled === true && coverage.provider === 'v8'
}

/** Fetching a served module back from Vite's dev server, in this process: it is already transformed. */
const SOURCE_FETCH_BOUND_MS = 1_000

/**
 * A sampled line has no column (profile-stack.ts). Source maps map a
 * position, and a column before the line's first mapping maps to nothing: the
 * frame gets the column where the served line's code starts, read from the
 * module as Vite served it (the same URL the page loaded). The code frame
 * and the reported location then point at the start of the stuck line.
 */
async function withColumns(frames: SampledFrame[]): Promise<SampledFrame[]> {
  return Promise.all(frames.map(async (frame) => {
    if (frame.column !== null) return frame
    let column = 1
    try {
      const response = await bounded(fetch(frame.url), `fetching ${frame.url}`, SOURCE_FETCH_BOUND_MS)
      const text = (await bounded(response.text(), `reading ${frame.url}`, SOURCE_FETCH_BOUND_MS)).split('\n')[frame.line - 1] ?? ''
      column = text.length - text.trimStart().length + 1
    } catch {
      // Column 1 then: the frame may stay in served coordinates if nothing maps there.
    }
    return { ...frame, column }
  }))
}
