/**
 * The page's part of the ladder in browser mode: the browser counterpart of
 * worker/guard.ts, for a test body, a hook or the import of a test file in
 * the tester frame.
 *
 * Before the guarded code starts, the run is announced to the main process
 * (setup.ts says how; sent before the macrotask boundary below: a page that
 * spins from the first line can send nothing after it). The page owns stage
 * `abort` (its own timers, which fire only while the page is idle or
 * cooperative); `interrupt` is the main process's (host/browser/): a page
 * that does not answer has its running JavaScript terminated over CDP, and
 * `stop` here is told where it was.
 */
import { parsedFrames, type ParsedFrame } from '../shared/stack-frames.js'
import type { RunMessage, StopAnswer, Verdict } from '../shared/browser-protocol.js'
import { TestStoppedError } from '../shared/errors.js'
import type { Stage, StopReason } from '../shared/stop.js'
import { stoppedError, type GuardSpecBase } from '../shared/budget.js'
import { absoluteNow, realClearTimeout, realSetTimeout, stageTimer } from '../shared/clock.js'
import { ArrayPrototypeFilter, ArrayPrototypeFind, ArrayPrototypePush, ArrayPrototypeShift, ArrayPrototypeSplice, MapPrototypeDelete, MapPrototypeGet, MapPrototypeSet, mapValues, PromisePrototypeThen, PromiseRace, SafePromise, StringPrototypeIncludes } from '../shared/intrinsics.js'

/** In a page, a guarded run is told only what every guard is told. */
export type BrowserGuardSpec = GuardSpecBase

type Outcome =
  | { kind: 'settled'; ok: true; value: unknown }
  | { kind: 'settled'; ok: false; error: unknown }
  | { kind: 'expired' }
  | { kind: 'verdict'; verdict: Verdict }

interface Active {
  seq: number
  spec: BrowserGuardSpec
  began: number
  outcome: Outcome | undefined
  claimed: boolean
  aborted: boolean
  finish(outcome: Outcome): void
  timers: Array<ReturnType<typeof setTimeout>>
}

/**
 * A macrotask boundary that the browser does not clamp: nested setTimeout(0)
 * calls are held to 4 ms each after five levels, which every test would pay.
 */
const boundary = (() => {
  const channel = new MessageChannel()
  const waiting: Array<() => void> = []
  // The DOM's MessagePort (the type here is Node's, which has no onmessage).
  ;(channel.port1 as unknown as { onmessage: () => void }).onmessage = () => ArrayPrototypeShift(waiting)?.()
  return () => new SafePromise<void>((resolve) => {
    ArrayPrototypePush(waiting, resolve)
    channel.port2.postMessage(null)
  })
})()

/**
 * The first run announced by a Vitest browser command waits for the main
 * process to have its CDP session on the page ready (interrupt needs it
 * before anything spins). The main process bounds that at 2 s; past this the
 * run goes on without it, with stage abort only, rather than hang on a main
 * process that is gone.
 */
const READY_BOUND_MS = 5_000

/**
 * A timer more than this late found the page's thread held: a timer of an
 * idle page fires within a few ms of its time.
 */
const LATE_EXPIRY_MS = 100

/**
 * How long a run whose expiry came late waits for the main process's verdict.
 * After terminating the stuck code the main process reads the profile and
 * calls the page: tens of ms; 2 s is the bound it gives any answer of the
 * page (host/browser/interrupt.ts), and past it the run ends at stage abort.
 */
const HOST_VERDICT_WAIT_MS = 2_000

export class BrowserGuard {
  private readonly active = new Map<number, Active>()
  private sequence = 0
  private ready = false
  readonly frame = crypto.randomUUID()

  /**
   * `announce` returns the answer to wait for before the first run, or null
   * when the main process is known to be ready (setup.ts).
   */
  constructor(
    private readonly announce: (run: RunMessage) => Promise<unknown> | null,
    private readonly ended: (seq: number) => void,
    /** Whether the main process can stop this page's runs (it has a CDP session on the page). */
    private readonly hostStops: () => boolean,
  ) {}

  async run<T>(spec: BrowserGuardSpec, fn: () => T | PromiseLike<T>): Promise<T> {
    let resolve: (outcome: Outcome) => void = () => {}
    const settled = new SafePromise<Outcome>((r) => (resolve = r))
    const me: Active = {
      seq: ++this.sequence,
      spec,
      began: absoluteNow(),
      outcome: undefined,
      claimed: false,
      aborted: false,
      timers: [],
      finish: (outcome) => {
        if (me.outcome || (me.claimed && outcome.kind !== 'verdict')) return
        me.outcome = outcome
        resolve(outcome)
      },
    }
    MapPrototypeSet(this.active, me.seq, me)
    const announced = this.announce({ frame: this.frame, seq: me.seq, budget: spec.budget.ms, budgetSource: spec.budget.source, grace: spec.grace, subject: spec.subject, file: spec.file, name: spec.name })
    if (announced && !this.ready) {
      let bound: ReturnType<typeof setTimeout> | undefined
      await PromiseRace([announced, new SafePromise((r) => (bound = realSetTimeout(r, READY_BOUND_MS)))])
      realClearTimeout(bound)
      this.ready = true
    }
    this.arm(me)
    // Termination unwinds the running task and may drop its pending
    // microtasks: the guarded code starts in a task of its own, so none of
    // Vitest's reactions share it.
    const body = PromisePrototypeThen(boundary(), fn)
    PromisePrototypeThen(
      body,
      (value) => me.finish({ kind: 'settled', ok: true, value }),
      (error: unknown) => me.finish({ kind: 'settled', ok: false, error }),
    )
    const outcome = await settled
    for (const timer of me.timers) realClearTimeout(timer)
    MapPrototypeDelete(this.active, me.seq)
    this.ended(me.seq)
    if (outcome.kind === 'expired') {
      spec.expire?.()
      throw this.stopped(me, 'abort', 'never-settled')
    }
    if (outcome.kind === 'verdict') {
      const error = this.stopped(me, 'interrupt', 'interrupted', outcome.verdict)
      // The report's stack (host/report/collector.ts takes stop.stack first): error.stack stays in
      // served coordinates, which Vitest maps for its code frame, and would map twice if original.
      ;(error as { stop: object }).stop = { ...error.stop, stack: `${error.name}: ${error.message}\n${outcome.verdict.originalStack}` }
      // Vitest 4 maps a browser stack's 1-based column as if 0-based, which puts the
      // code frame's caret one column left: the frames, already original, are given as they are.
      ;(error as { stacks?: ParsedFrame[] }).stacks = ArrayPrototypeFilter(parsedFrames(outcome.verdict.originalStack), (frame) => !StringPrototypeIncludes(frame.file, '/node_modules/'))
      throw error
    }
    if (me.aborted) throw this.stopped(me, 'abort', 'settled-after-abort')
    if (!outcome.ok) throw outcome.error
    return outcome.value as T
  }

  /** As in Node (worker/guard.ts): a stage past the longest timer never comes. */
  private arm(me: Active): void {
    const { budget, grace } = me.spec
    if (budget.ms === 0) return
    const abort = stageTimer(() => {
      if (me.outcome || me.claimed) return
      me.aborted = true
      me.spec.abort?.(this.stopped(me, 'abort', 'settled-after-abort'))
    }, budget.ms)
    const due = absoluteNow() + budget.ms + grace
    const expire = stageTimer(() => {
      // Late by more than a busy task's worth: the thread was held until
      // now, most likely by this run's own code, which the main process has
      // just terminated. Its verdict (with the stuck line) comes next; ending
      // the run here at stage abort would lose it.
      if (this.hostStops() && absoluteNow() - due > LATE_EXPIRY_MS) {
        ArrayPrototypePush(me.timers, realSetTimeout(() => me.finish({ kind: 'expired' }), HOST_VERDICT_WAIT_MS))
        return
      }
      me.finish({ kind: 'expired' })
    }, budget.ms + grace)
    if (abort !== undefined) ArrayPrototypePush(me.timers, abort)
    if (expire !== undefined) ArrayPrototypePush(me.timers, expire)
  }

  /** Asked by the main process: the page answering means no code of the run is running now. */
  state(seq: number): 'running' | 'ended' {
    const run = MapPrototypeGet(this.active, seq)
    return run && !run.outcome && !run.claimed ? 'running' : 'ended'
  }

  /**
   * The page's running JavaScript was terminated: the run it belonged to fails
   * at stage interrupt. That may not be run `seq`, whose deadline led the main
   * process here: a concurrent sibling may be the one that spun, and `seq`
   * itself may have ended in the moment between termination and this call.
   */
  stop(seq: number, stuck: { file: string; line: number } | null, verdict: Verdict): StopAnswer {
    const running = ArrayPrototypeFilter(mapValues(this.active), (run) => !run.outcome && !run.claimed)
    const due = ArrayPrototypeFind(running, (run) => run.seq === seq)
    const run = running.length === 1 ? running[0] : (this.culpritOf(running, stuck) ?? due)
    if (!run) return { state: 'ended' }
    run.claimed = true
    for (const timer of run.timers) realClearTimeout(timer)
    // The siblings lost the page's thread while it spun: their clocks start again.
    const restarted: number[] = []
    const runs = mapValues(this.active)
    for (let i = 0; i < runs.length; i++) {
      const other = runs[i]!
      if (other === run || other.outcome || other.claimed || other.aborted) continue
      const timers = ArrayPrototypeSplice(other.timers, 0)
      for (let t = 0; t < timers.length; t++) realClearTimeout(timers[t])
      this.arm(other)
      ArrayPrototypePush(restarted, other.seq)
    }
    run.finish({ kind: 'verdict', verdict })
    return { state: 'stopped', seq: run.seq, restarted }
  }

  /**
   * Among concurrent runs, the one whose `test(` line is the closest above the
   * stuck line in its file (as worker/guard.ts does in Node); null when it
   * cannot be told.
   */
  private culpritOf(running: Active[], stuck: { file: string; line: number } | null): Active | null {
    if (!stuck) return null
    let best: Active | null = null
    let bestLine = 0
    for (let i = 0; i < running.length; i++) {
      const run = running[i]!
      const at = run.spec.definition?.()
      if (!at || at.file !== stuck.file || at.line > stuck.line) continue
      if (!best || at.line > bestLine) {
        best = run
        bestLine = at.line
      }
    }
    return best
  }

  private stopped(me: Active, stage: Stage, reason: StopReason, verdict?: Verdict): TestStoppedError {
    return stoppedError(me.spec, me.began, stage, reason, verdict, { inPage: true })
  }

}

