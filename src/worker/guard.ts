/**
 * One ladder, for anything the runner guards: a test body, a hook, the
 * import of a test file. The caller says what it is and what to abort; the
 * guard owns the timers, the shared slot the helper watches, and the errors.
 */
import { TestStoppedError } from '../shared/errors.js'
import type { Budget } from './budget.js'
import { DEADLINE, RUN, SLOW_AT, type Verdict } from './channel.js'
import { absoluteNow, realClearTimeout, realSetImmediate, unrefTimer } from './clock.js'
import type { Helper } from './helper-handle.js'
import { stuckLocation } from './stuck-location.js'

/**
 * How long the runner waits for the helper's verdict once the helper has
 * claimed a run: the whole interrupt stage (grace) plus the helper's own
 * bounded inspector calls. Past it the helper has killed the process anyway.
 */
const VERDICT_MARGIN_MS = 5_000
/**
 * The helper steps in this long after the abort stage ends. An idle thread
 * (an async hang) ends its own abort stage with a timer that fires on time;
 * the margin keeps the helper from pausing an idle thread because that timer
 * ran a little late on a loaded machine. A busy thread pays it once per hang.
 */
const IDLE_MARGIN_MS = 200
/** How often a concurrent test re-checks a stop in progress (see endAbortStage): a verdict takes a few ms to arrive. */
const CLAIMED_RECHECK_MS = 10

export interface GuardSpec {
  /** Names what is stopped, first word of the error: "Test", 'Hook "beforeEach"', 'Import of "a.test.ts"'. */
  subject: string
  budget: Budget
  grace: number
  root: string
  /** Who is running, for the helper's kill record. */
  file: string
  name: string
  /** A stack line pointing at the definition, for stops with no stuck frame. */
  definedAt?: string
  /** Where the test is defined (its `test(` line): tells concurrent tests apart when one of them is stuck. */
  definition?: { file: string; line: number }
  /** The abort stage: abort what the guarded code listens to. Absent: there is nothing to abort. */
  abort?: (reason: TestStoppedError) => void
  /** Called when the abort stage expires on an idle thread, before the guard gives up on the run. */
  expire?: () => void
}

interface Active {
  seq: number
  spec: GuardSpec
  start: number
  /** Hands this run a verdict the slot's owner received for it (test.concurrent). */
  deliver(verdict: Verdict): void
}

let sequence = 0

export class Guard {
  private readonly active: Active[] = []
  private owner: Active | null = null

  constructor(private readonly helper: Helper) {}

  /** Runs `fn` in a fresh microtask under the ladder; resolves or rejects as it does, or with the stop. */
  async run<T>(spec: GuardSpec, fn: () => T | PromiseLike<T>): Promise<T> {
    let deliver: (verdict: Verdict) => void = () => {}
    const delivered = new Promise<Verdict>((resolve) => (deliver = resolve))
    const me: Active = { seq: ++sequence, spec, start: absoluteNow(), deliver }
    this.active.push(me)
    if (!this.owner) this.own(me)

    let abortNote: string | undefined
    const startAbortStage = (): void => {
      // Claimed by the helper (this timer can fire right after an interrupt,
      // before the verdict arrives): the helper's stop stands.
      if (abortNote || (this.owner === me && Atomics.load(this.helper.channel.run, RUN) !== me.seq)) return
      abortNote = spec.abort ? 'It settled after its signal was aborted.' : 'It settled by itself during the grace period.'
      spec.abort?.(this.stop(me, 'abort', null, abortNote))
    }
    const abortTimer = unrefTimer(startAbortStage, spec.budget.ms)
    // The end of the abort stage, seen from this thread: it can only fire when
    // the thread is idle, waiting on something that will never come.
    let expire: (value: 'expired') => void = () => {}
    const expired = new Promise<'expired'>((resolve) => (expire = resolve))
    const endAbortStage = (): void => {
      if (this.owner === me) {
        if (Atomics.compareExchange(this.helper.channel.run, RUN, me.seq, 0) === me.seq) expire('expired')
        return
      }
      // A concurrent sibling owns the slot. While the helper is stopping it
      // (the slot is claimed), the stuck code may be this test's own: wait for
      // the verdict, which may be handed to this test, before giving up on it.
      if (Atomics.load(this.helper.channel.run, RUN) < 0) abortStageEnd = unrefTimer(endAbortStage, CLAIMED_RECHECK_MS)
      else expire('expired')
    }
    let abortStageEnd = unrefTimer(endAbortStage, spec.budget.ms + spec.grace)

    // Termination unwinds the running task's stack and drops every pending
    // microtask. So the guarded code starts after a macrotask boundary (the
    // queue is empty: no reaction of Vitest's is pending, such as the task
    // update it sends right before a hook), in a fresh microtask (the runner's
    // own frames are not on the stack, and no async resource is current, which
    // keeps termination safe).
    const body = new Promise<void>((resolve) => realSetImmediate(resolve)).then(fn)
    const settled = body.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }))
    let verdict = this.helper.verdictFor(me.seq)
    let outcome = await Promise.race([settled, verdict, expired, delivered])
    while (typeof outcome === 'object' && 'kind' in outcome && this.owner === me) {
      const culprit = this.culpritOf(outcome)
      if (!culprit || culprit === me) break
      // The stuck code was a concurrent sibling's: it fails, and this test gets
      // the ladder again from its abort stage, which the sibling's loop had
      // held up: its signal is aborted now, with one more grace period.
      culprit.deliver(outcome)
      this.own(me, absoluteNow() + spec.grace + IDLE_MARGIN_MS)
      startAbortStage()
      realClearTimeout(abortStageEnd)
      abortStageEnd = unrefTimer(endAbortStage, spec.grace)
      verdict = this.helper.verdictFor(me.seq)
      outcome = await Promise.race([settled, verdict, expired, delivered])
    }
    realClearTimeout(abortTimer)
    realClearTimeout(abortStageEnd)

    if (outcome === 'expired') {
      this.release(me, true)
      spec.expire?.()
      const what = spec.abort ? 'its signal being aborted' : 'its budget running out'
      throw this.stop(me, 'abort', null, `No JavaScript was running: it was waiting on a promise that never settled, and did not settle within ${spec.grace}ms of ${what}.`)
    }
    if ('kind' in outcome) {
      this.release(me, true)
      throw this.interrupted(me, outcome)
    }
    if (!this.release(me, false)) {
      // The helper claimed this run just as it settled: its verdict decides.
      const late = await Promise.race([verdict, delay(spec.grace + VERDICT_MARGIN_MS)])
      const culprit = late ? this.culpritOf(late) : null
      if (late && culprit && culprit !== me) culprit.deliver(late)
      this.release(me, true)
      if (late && (!culprit || culprit === me)) throw this.interrupted(me, late)
    }
    if (abortNote) {
      // Settled after the abort, within grace: the abort stage stopped it.
      // Report the moment it settled, which is when its cleanup had run.
      throw this.stop(me, 'abort', null, abortNote)
    }
    if (!outcome.ok) throw outcome.error
    return outcome.value
  }

  /**
   * Which running test's code was stuck, when several run concurrently: the
   * one whose `test(` line is the closest above a stuck frame in its file.
   * Null when it cannot be told (the guard's owner then takes the stop).
   */
  private culpritOf(verdict: Verdict): Active | null {
    if (this.active.length < 2) return null
    for (const frame of stuckLocation(verdict.frames).userFrames) {
      let best: Active | null = null
      for (const run of this.active) {
        const at = run.spec.definition
        if (!at || at.file !== frame.file || at.line > frame.line) continue
        if (!best || at.line > best.spec.definition!.line) best = run
      }
      if (best) return best
    }
    return null
  }

  /** Points the helper's shared slot at `me`: its deadline is the one watched. */
  private own(me: Active, deadline = me.start + me.spec.budget.ms + me.spec.grace + IDLE_MARGIN_MS): void {
    const { channel } = this.helper
    this.owner = me
    channel.times[DEADLINE] = deadline
    channel.times[SLOW_AT] = me.start + me.spec.budget.ms / 2
    this.helper.started({ seq: me.seq, file: me.spec.file, name: me.spec.name, subject: me.spec.subject, killAfter: me.spec.budget.ms, budgetSource: me.spec.budget.source, startedAt: me.start })
    Atomics.store(channel.run, RUN, me.seq)
    Atomics.notify(channel.run, RUN)
  }

  /**
   * Ends `me`. Returns false when the helper had claimed it (the caller must
   * wait for the verdict), unless `force`. Concurrent runs (test.concurrent)
   * share the one slot: when its owner ends, the next running one takes it.
   */
  private release(me: Active, force: boolean): boolean {
    const { channel } = this.helper
    if (this.owner === me) {
      if (Atomics.compareExchange(channel.run, RUN, me.seq, 0) !== me.seq) {
        if (!force && Atomics.load(channel.run, RUN) === -me.seq) return false
        Atomics.store(channel.run, RUN, 0)
      }
      Atomics.notify(channel.run, RUN)
      this.owner = null
    }
    this.helper.forget(me.seq)
    const index = this.active.indexOf(me)
    if (index !== -1) this.active.splice(index, 1)
    const next = this.active[0]
    if (!this.owner && next) this.own(next)
    return true
  }

  private stop(me: Active, stage: 'abort' | 'interrupt', verdict: Verdict | null, note: string): TestStoppedError {
    const { spec } = me
    const mapped = verdict ? stuckLocation(verdict.frames) : null
    const others = this.active.length - 1
    const shared = verdict && others > 0 ? ` ${others} other test(s) were running concurrently in this worker.` : ''
    const error = new TestStoppedError({
      subject: spec.subject,
      stage,
      elapsedMs: absoluteNow() - me.start,
      killAfter: spec.budget.ms,
      budgetSource: spec.budget.source,
      location: mapped?.location ?? null,
      root: spec.root,
      note: note + shared,
    })
    const frames = mapped ? `\n${mapped.stack}` : spec.definedAt ? `\n${spec.definedAt}` : ''
    error.stack = `${error.name}: ${error.message}${frames}`
    return error
  }

  private interrupted(me: Active, verdict: Verdict): TestStoppedError {
    const signal = me.spec.abort ? `Its signal was aborted and ignored for ${me.spec.grace}ms` : `It was still running ${me.spec.grace}ms after its budget`
    return this.stop(me, 'interrupt', verdict, `${signal}, so the running JavaScript was terminated; the worker goes on.`)
  }
}

function delay(ms: number): Promise<null> {
  return new Promise((resolve) => unrefTimer(() => resolve(null), ms))
}
