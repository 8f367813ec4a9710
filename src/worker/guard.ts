/**
 * One ladder, for anything the runner guards: a test body, a hook, the
 * import of a test file. The caller says what it is and what to abort; the
 * guard owns the timers, the shared slot the helper watches, and the errors.
 */
import { TestStoppedError } from '../shared/errors.js'
import type { Budget } from './budget.js'
import { DEADLINE, RUN, STARTED, type Verdict } from './channel.js'
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
  /** The abort stage: abort what the guarded code listens to. Absent: there is nothing to abort. */
  abort?: (reason: TestStoppedError) => void
  /** Called when the abort stage expires on an idle thread, before the guard gives up on the run. */
  expire?: () => void
}

interface Active {
  seq: number
  spec: GuardSpec
  start: number
}

let sequence = 0

export class Guard {
  private readonly active: Active[] = []
  private owner: Active | null = null

  constructor(private readonly helper: Helper) {}

  /** Runs `fn` in a fresh microtask under the ladder; resolves or rejects as it does, or with the stop. */
  async run<T>(spec: GuardSpec, fn: () => T | PromiseLike<T>): Promise<T> {
    const me: Active = { seq: ++sequence, spec, start: absoluteNow() }
    this.active.push(me)
    if (!this.owner) this.own(me)

    let abortNote: string | undefined
    const abortTimer = unrefTimer(() => {
      // Claimed by the helper (this timer can fire right after an interrupt,
      // before the verdict arrives): the helper's stop stands.
      if (this.owner === me && Atomics.load(this.helper.channel.run, RUN) !== me.seq) return
      abortNote = spec.abort ? 'It settled after its signal was aborted.' : 'It settled by itself during the grace period.'
      spec.abort?.(this.stop(me, 'abort', null, abortNote))
    }, spec.budget.ms)
    // The end of the abort stage, seen from this thread: it can only fire when
    // the thread is idle, waiting on something that will never come.
    let expire: (value: 'expired') => void = () => {}
    const expired = new Promise<'expired'>((resolve) => (expire = resolve))
    const abortStageEnd = unrefTimer(() => {
      if (this.owner !== me || Atomics.compareExchange(this.helper.channel.run, RUN, me.seq, 0) === me.seq) expire('expired')
    }, spec.budget.ms + spec.grace)

    // Termination unwinds the running task's stack and drops every pending
    // microtask. So the guarded code starts after a macrotask boundary (the
    // queue is empty: no reaction of Vitest's is pending, such as the task
    // update it sends right before a hook), in a fresh microtask (the runner's
    // own frames are not on the stack, and no async resource is current, which
    // keeps termination safe).
    const body = new Promise<void>((resolve) => realSetImmediate(resolve)).then(fn)
    const settled = body.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }))
    const verdict = this.helper.verdictFor(me.seq)
    const outcome = await Promise.race([settled, verdict, expired])
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
      this.release(me, true)
      if (late) throw this.interrupted(me, late)
    }
    if (abortNote) {
      // Settled after the abort, within grace: the abort stage stopped it.
      // Report the moment it settled, which is when its cleanup had run.
      throw this.stop(me, 'abort', null, abortNote)
    }
    if (!outcome.ok) throw outcome.error
    return outcome.value
  }

  /** Points the helper's shared slot at `me`: its deadline is the one watched. */
  private own(me: Active): void {
    const { channel } = this.helper
    this.owner = me
    channel.times[STARTED] = me.start
    channel.times[DEADLINE] = me.start + me.spec.budget.ms + me.spec.grace + IDLE_MARGIN_MS
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
    const shared = verdict && others > 0 ? ` ${others} other test(s) were running concurrently in this worker; the stuck frame above shows whose code it was.` : ''
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
