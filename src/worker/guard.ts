/**
 * One ladder, for anything the runner guards: a test body, a hook, the
 * import of a test file. The caller says what it is and what to abort.
 *
 * The guard owns the worker's part of the ladder: the abort stage (its own
 * timers, which can fire only while the thread is idle or cooperative), and
 * the endpoint the main process talks to while the thread is paused
 * (shared/endpoint.ts). Interrupt and kill are decided in the main process,
 * which learns of each run from the journal line written here before the
 * run's code starts.
 */
import { executionAsyncId } from 'node:async_hooks'
import type { InspectAnswer, RawFrame } from '../shared/endpoint.js'
import { TestStoppedError } from '../shared/errors.js'
import type { SuiteHookKind } from '../shared/journal.js'
import { isWatchdogCode } from '../shared/own-files.js'
import type { SourceLocation, Stage, StopReason } from '../shared/stop.js'
import { stoppedError, type GuardSpecBase } from '../shared/budget.js'
import { absoluteNow, fitsTimer, realClearTimeout, realSetImmediate, stageTimer, unrefTimer } from '../shared/clock.js'
import { MathMin, ArrayPrototypeFilter, ArrayPrototypeFind, ArrayPrototypeMap, ArrayPrototypeSome, ArrayPrototypeIncludes, ArrayPrototypeJoin, DateNow, MapPrototypeDelete, MapPrototypeGet, MapPrototypeGetSize, MapPrototypeSet, mapValues, PromisePrototypeThen, SafePromise, SetPrototypeAdd, SetPrototypeHas } from '../shared/intrinsics.js'
import { append, flush, hostNotes, journalDone, journalRun } from './journal.js'
import { stuckLocation } from './stuck-location.js'

/**
 * A claimed run is delivered by the main process right after the stuck
 * JavaScript was terminated (a few ms). Past this bound the guard delivers it
 * itself: the thread runs again, so the termination happened, and the main
 * process that should have said so is gone or stuck.
 */
const DELIVERY_FALLBACK_MS = 10_000

export interface GuardSpec extends GuardSpecBase {
  /** The test this run belongs to (body, beforeEach/afterEach, onTestFinished): a worker dying in it fails that test. */
  test?: string
  /** A suite-level hook: a worker dying in it fails that suite only. */
  suite?: { id: string; hook: SuiteHookKind }
}

type Outcome =
  | { kind: 'settled'; ok: true; value: unknown }
  | { kind: 'settled'; ok: false; error: unknown }
  | { kind: 'expired' }
  | { kind: 'verdict' }

interface Claim {
  location: SourceLocation | null
  stack: string
  concurrent: number
  fallback: ReturnType<typeof setTimeout>
}

interface Active {
  seq: number
  spec: GuardSpec
  /** When it started, for the elapsed time reported. */
  began: number
  /** When its clocks started: its start, or a restart after a concurrent sibling had the thread. */
  clockAt: number
  outcome: Outcome | undefined
  /** First come, first served: an outcome after a claim is ignored, the verdict is not. */
  finish(outcome: Outcome): void
  claim: Claim | null
  /** The abort stage began (its signal was aborted). */
  aborted: boolean
  /** When its abort stage and its end are due (absoluteNow); Infinity: not armed, or never comes. */
  abortAt: number
  expireAt: number
}

let sequence = 0

/**
 * The guarded code, after a macrotask boundary (see Guard.run), awaited: V8
 * puts this frame ("at async awaited") below the code's own frames after each
 * await too, so a resource's creation stack shows that a test's own code
 * created it (leaks/chain.ts). `await` on a native promise calls no `then` a test replaced.
 */
async function awaited<T>(fn: () => T | PromiseLike<T>): Promise<T> {
  await new SafePromise<void>((r) => realSetImmediate(r))
  return await fn()
}

export class Guard {
  private readonly active = new Map<number, Active>()
  /**
   * One timer for every run's stages: due at the earliest stage of the active
   * runs, set again only when an earlier one appears or when it fires.
   * Sequential tests of one budget then set one timer per budget, not two per test.
   */
  private timer: ReturnType<typeof setTimeout> | undefined
  private timerAt = Infinity
  /**
   * `closeInspector` closes the worker's inspector on its next turn (the
   * endpoint's). From its budget on, a run may have had the main process open
   * the inspector (ahead of a stop, or for one): the next test must never
   * find it open, whenever the main process's own close arrives.
   */
  constructor(private readonly closeInspector: () => void) {}

  private pastBudget(run: Active): boolean {
    return run.spec.budget.ms > 0 && absoluteNow() >= run.clockAt + run.spec.budget.ms
  }

  /** A run still going whose stop the main process may be preparing: its session must stay. */
  private anyPastBudget(): boolean {
    return ArrayPrototypeSome(mapValues(this.active), (run) => this.pastBudget(run))
  }

  /** Notes of the main process already taken by a run (see freedByHost). */
  private readonly notesTaken = new Set<string>()

  /** Runs `fn` in a fresh microtask under the ladder; resolves or rejects as it does, or with the stop. */
  async run<T>(spec: GuardSpec, fn: () => T | PromiseLike<T>): Promise<T> {
    let resolve: (outcome: Outcome) => void = () => {}
    const settledOutcome = new SafePromise<Outcome>((r) => (resolve = r))
    const me: Active = {
      seq: ++sequence,
      spec,
      began: absoluteNow(),
      clockAt: absoluteNow(),
      outcome: undefined,
      claim: null,
      aborted: false,
      abortAt: Infinity,
      expireAt: Infinity,
      finish: (outcome) => {
        if (me.outcome || (me.claim && outcome.kind !== 'verdict')) return
        me.outcome = outcome
        resolve(outcome)
      },
    }
    MapPrototypeSet(this.active, me.seq, me)
    // Written before the code starts: a thread that spins from the first
    // line can tell no one anything after this.
    journalRun({
      seq: me.seq,
      at: DateNow(),
      budget: spec.budget.ms,
      budgetSource: spec.budget.source,
      grace: spec.grace,
      subject: spec.subject,
      file: spec.file,
      name: spec.name,
      hadSignal: !!spec.abort,
      test: spec.test || undefined,
      suite: spec.suite?.id,
      hook: spec.suite?.hook,
    })
    this.arm(me)

    // Termination unwinds the running task's stack and drops every pending
    // microtask. So the guarded code starts after a macrotask boundary (the
    // queue is empty: no reaction of Vitest's is pending, such as the task
    // update it sends right before a hook), in a fresh microtask (the runner's
    // own frames are not on the stack, and no async resource is current, which
    // keeps termination safe).
    const body = awaited(fn)
    PromisePrototypeThen(
      body,
      (value) => me.finish({ kind: 'settled', ok: true, value }),
      (error: unknown) => me.finish({ kind: 'settled', ok: false, error }),
    )
    const outcome = await settledOutcome
    this.disarm(me)
    if (me.claim) realClearTimeout(me.claim.fallback)
    MapPrototypeDelete(this.active, me.seq)
    if (this.pastBudget(me) && !this.anyPastBudget()) this.closeInspector()
    journalDone(me.seq)

    if (outcome.kind === 'expired') {
      spec.expire?.()
      throw this.stopped(me, 'abort', 'never-settled')
    }
    if (outcome.kind === 'verdict') throw this.stopped(me, 'interrupt', 'interrupted')
    // Ended past its deadline: the main process may have killed the child it was blocked on.
    if (spec.budget.ms > 0 && absoluteNow() >= me.clockAt + spec.budget.ms + spec.grace && this.freedByHost(me, outcome)) {
      this.restartSiblings(me)
      throw this.stopped(me, 'kill', 'child-killed')
    }
    // Settled after the abort, within grace: the abort stage stopped it.
    if (me.aborted) throw this.stopped(me, 'abort', 'settled-after-abort')
    if (!outcome.ok) throw outcome.error
    return outcome.value as T
  }

  /**
   * The abort stage at the budget; its end at budget + grace, which fires only
   * if the thread is idle. A stage past the longest timer never comes.
   */
  private arm(me: Active): void {
    const { budget, grace } = me.spec
    me.clockAt = absoluteNow()
    me.abortAt = Infinity
    me.expireAt = Infinity
    if (budget.ms === 0) return
    if (fitsTimer(budget.ms)) me.abortAt = me.clockAt + budget.ms
    if (fitsTimer(budget.ms + grace)) me.expireAt = me.clockAt + budget.ms + grace
    this.schedule(MathMin(me.abortAt, me.expireAt))
  }

  private disarm(me: Active): void {
    // The shared timer stays: when it fires it finds nothing due, or another run's stage.
    me.abortAt = Infinity
    me.expireAt = Infinity
  }

  /** The shared timer is due at `at` or earlier. */
  private schedule(at: number): void {
    if (at >= this.timerAt) return
    if (this.timer) realClearTimeout(this.timer)
    this.timerAt = at
    // Every stage armed fits a timer from its run's start (arm), so from now too.
    this.timer = stageTimer(() => this.stagesDue(), at - absoluteNow())
  }

  /** The shared timer fired: each run's stages that are due, in order; then the timer for the next. */
  private stagesDue(): void {
    this.timer = undefined
    this.timerAt = Infinity
    const runs = mapValues(this.active)
    try {
      const now = absoluteNow()
      for (let i = 0; i < runs.length; i++) {
        const me = runs[i]!
        if (me.abortAt <= now) {
          me.abortAt = Infinity
          if (!me.outcome && !me.claim && !me.aborted) {
            me.aborted = true
            me.spec.abort?.(this.stopped(me, 'abort', 'settled-after-abort'))
            // Its end, if due too, comes on a later turn: what the abort set off settles first, as with a timer of its own.
            continue
          }
        }
        if (me.expireAt <= now) {
          me.expireAt = Infinity
          me.finish({ kind: 'expired' })
        }
      }
    } finally {
      // A timer can fire a little before its time by this clock: what is not due yet gets the timer again.
      let next = Infinity
      for (let i = 0; i < runs.length; i++) next = MathMin(next, runs[i]!.abortAt, runs[i]!.expireAt)
      this.schedule(next)
    }
  }

  /**
   * The endpoint's `inspect` (shared/endpoint.ts), called by the main process
   * while this thread is paused: nothing here can race with the runs.
   */
  inspect(seq: number, frames: RawFrame[], requireUserFrame: boolean): InspectAnswer {
    const run = MapPrototypeGet(this.active, seq)
    if (!run || run.outcome || run.claim) return { state: 'ended' }
    const mapped = stuckLocation(frames)
    if (mapped.userFrames.length === 0) {
      // The runner's own code with no user code below: the end of an abort
      // stage about to run on an idle thread. (A user loop calling a wrapped
      // API has user frames below the watchdog's: that one is stopped.)
      if (isWatchdogCode(frames[0]?.url)) return { state: 'handback' }
      if (requireUserFrame) return { state: 'no-user-frame' }
    }
    const culprit = this.culpritOf(mapped.userFrames) ?? run
    // Terminating is safe only when no async resource is on the stack: in a
    // timer, immediate or I/O callback it corrupts the async hook stack and
    // takes the whole process down (measured on Node 20 and 24).
    const asyncId = executionAsyncId()
    if (asyncId !== 0) return { state: 'unsafe', seq: culprit.seq, asyncId, location: mapped.location, stack: mapped.stack }
    const concurrent = MapPrototypeGetSize(this.active) - 1
    culprit.claim = {
      location: mapped.location,
      stack: mapped.stack,
      concurrent,
      fallback: unrefTimer(() => this.deliver(culprit.seq), DELIVERY_FALLBACK_MS),
    }
    this.disarm(culprit)
    this.restartSiblings(culprit)
    return { state: 'claimed', seq: culprit.seq, location: mapped.location, stack: mapped.stack, concurrent }
  }

  /**
   * Whether `me` is the run whose blocked child the main process killed. The
   * main process cannot tell which of several concurrent runs was blocked (no
   * JavaScript ran): its note names the run whose deadline passed. The run
   * whose execSync failed with the killed child's pid is the one; failing
   * that, the run the note names. Each note is taken once.
   */
  private freedByHost(me: Active, outcome: Outcome): boolean {
    const pid = outcome.kind === 'settled' && !outcome.ok ? (outcome.error as { pid?: unknown } | null)?.pid : undefined
    const notes = ArrayPrototypeFilter(hostNotes(), (note) => !SetPrototypeHas(this.notesTaken, ArrayPrototypeJoin(note.pids, ',')))
    const note = ArrayPrototypeFind(notes, (n) => typeof pid === 'number' && ArrayPrototypeIncludes(n.pids, pid)) ?? ArrayPrototypeFind(notes, (n) => n.seq === me.seq && typeof pid !== 'number')
    if (!note) return false
    SetPrototypeAdd(this.notesTaken, ArrayPrototypeJoin(note.pids, ','))
    return true
  }

  /**
   * `culprit`'s siblings lost the thread while it was stuck: their clocks
   * start again, so that time is not counted against them. On disk before the
   * stop ends: the main process must not stop a sibling on its old deadline.
   */
  private restartSiblings(culprit: Active): void {
    const runs = mapValues(this.active)
    for (let i = 0; i < runs.length; i++) {
      const other = runs[i]!
      if (other === culprit || other.outcome || other.claim || other.aborted) continue
      this.disarm(other)
      this.arm(other)
      append({ kind: 'restart', seq: other.seq, at: DateNow() })
    }
    flush()
  }

  /**
   * The endpoint's `deliver`: the claimed run's JavaScript was terminated; it
   * fails at stage interrupt. The verdict is settled in a macrotask of its
   * own: a concurrent sibling may already spin again when this is evaluated
   * (its timer came due while the culprit spun), and a reaction queued here
   * would be a pending microtask that the sibling's own termination drops,
   * leaving the culprit unsettled for good.
   */
  deliver(seq: number): boolean {
    const run = MapPrototypeGet(this.active, seq)
    if (!run?.claim) return false
    realClearTimeout(run.claim.fallback)
    realSetImmediate(() => run.finish({ kind: 'verdict' }))
    return true
  }

  /**
   * Which running test's code was stuck, when several run concurrently: the
   * one whose `test(` line is the closest above a stuck frame in its file.
   * Null when it cannot be told (the run whose deadline passed takes the stop).
   */
  private culpritOf(userFrames: SourceLocation[]): Active | null {
    if (MapPrototypeGetSize(this.active) < 2) return null
    const runs = mapValues(this.active)
    const definitions = ArrayPrototypeMap(runs, (run) => (run.outcome ? undefined : run.spec.definition?.()))
    for (let f = 0; f < userFrames.length; f++) {
      const frame = userFrames[f]!
      let best = -1
      for (let r = 0; r < runs.length; r++) {
        const at = definitions[r]
        if (!at || at.file !== frame.file || at.line > frame.line) continue
        if (best < 0 || at.line > definitions[best]!.line) best = r
      }
      if (best >= 0) return runs[best]!
    }
    return null
  }

  private stopped(me: Active, stage: Stage, reason: StopReason): TestStoppedError {
    const { claim } = me
    return stoppedError(me.spec, me.began, stage, reason, claim ?? undefined, claim && claim.concurrent > 0 ? { concurrent: claim.concurrent } : {})
  }

}
