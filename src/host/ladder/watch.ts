/**
 * The main process's watch over one worker: it reads the worker's journal,
 * keeps the guarded runs in flight with their deadlines, and drives stages
 * interrupt and kill for each run that outlives its budget + grace.
 *
 * Per run, with `at` its start (the worker's clock), three stages:
 * - at + budget / 2: SLOW is announced (the worker may be spinning and unable to say it);
 * - at + budget: the session on the worker's thread is opened and the Debugger
 *   enabled ahead of time (most of a stop's cost), while the worker runs its
 *   own abort stage;
 * - at + budget + grace: the stop. A thread that never answered cannot be
 *   interrupted: kill. Otherwise pause it and interrupt (interrupt.ts).
 * Each read's lines are applied together, and the worker has one timer, for
 * the earliest stage due among its open runs: a run whose end is read with
 * its start is never armed, and a green run costs the main process one read
 * of the journal per tick.
 */
import { relative } from 'node:path'
import { fitsTimer, realClearInterval, realClearTimeout, realSetInterval, unrefTimer } from '../../shared/clock.js'
import type { HostNote, JournalLine, RunLine } from '../../shared/journal.js'
import { oneLine } from '../../shared/one-line.js'
import { killTree } from '../../shared/process-tree.js'
import type { Observation, SourceLocation, Stop, StopReason } from '../../shared/stop.js'
import { followPauses, interrupt, type Decision, type Link } from './interrupt.js'
import { JournalTail } from './journal-tail.js'
import type { InspectorTarget } from './targets.js'

/**
 * How often live journals are read. A run is seen at most this late; its
 * deadlines come from its own start time, so they stay exact (unless a budget
 * is shorter than a tick). 25 ms is 40 small reads a second for the whole
 * run, nothing next to the tests.
 */
const TAIL_TICK_MS = 25
/**
 * The least time a thread is given to answer the inspector (SIGUSR1, URL,
 * WebSocket, Debugger.enable; or the NodeWorker attach) before it is declared
 * blocked outside JavaScript. Measured on this 2-core machine: 96–141 ms for a
 * whole stop of a worker with 295 scripts; 500 ms leaves 3–5× for load. Only
 * matters when grace is shorter: the session opens at the budget.
 */
const RESPONSIVE_BOUND_MS = 500
/**
 * After a look that found no stuck user code (an idle thread running a
 * callback, or the runner about to end the run itself), the worker's own abort
 * stage is already due: this is several event-loop turns for it to end the
 * run before the next look.
 */
const LOOK_AGAIN_MS = 100
/** Looks at one stop before giving up on telling idle from stuck: each one after the first claims whatever it finds. */
const MAX_LOOKS = 3

export interface WatchOwner {
  /** Leaves a note the worker reads when a run ends past its deadline (shared/journal.ts, HostNote); throws when it cannot. */
  note(note: HostNote): void
  /** Stage kill: the pool worker kills the worker (or terminates or abandons the thread) and resumes the file. */
  kill(stop: Stop, run: RunLine, abandon: boolean): void
  /** A line for the user (SLOW, standing down), on Vitest's error stream. */
  log(message: string): void
  readonly root: string
}

/** A run's stages, in order; each is a bit of Watched.pending. */
const SLOW = 1
const LINK = 2
const STOP = 4
const STAGES = [SLOW, LINK, STOP] as const
type Stage = (typeof STAGES)[number]

interface Watched {
  line: RunLine
  /** When its clocks started: its start, or a restart after a concurrent sibling had the thread. */
  clockAt: number
  /** The stages still to come on these clocks (bits of SLOW, LINK, STOP). */
  pending: number
  /** SLOW is said once per run, even when its clocks restart. */
  announced?: boolean
}

/**
 * When `stage` is due, in ms after the run's clock started; Infinity when it
 * never comes: a stage past the longest timer (shared/clock.ts, fitsTimer),
 * and the session for a stop that never comes (it would stay open for the
 * rest of the run).
 */
function stageMs(line: RunLine, stage: Stage): number {
  const { budget, grace } = line
  const ms = stage === SLOW ? budget / 2 : stage === LINK ? (fitsTimer(budget + grace) ? budget : Infinity) : budget + grace
  return fitsTimer(ms) ? ms : Infinity
}

/** The stages that come at all, on a run's fresh clocks. */
function comingStages(line: RunLine): number {
  let pending = 0
  for (const stage of STAGES) if (stageMs(line, stage) !== Infinity) pending |= stage
  return pending
}

/** The lines the watch acts on; a test's own lines (its start, attempts, result) are not even parsed. */
const WATCHED_KINDS: ReadonlySet<JournalLine['kind']> = new Set(['run', 'done', 'restart', 'spawn'])

const watches = new Set<WorkerWatch>()
let ticker: ReturnType<typeof setInterval> | undefined

function startTicker(): void {
  if (ticker) return
  ticker = realSetInterval(() => {
    for (const watch of watches) watch.poll()
  }, TAIL_TICK_MS)
  ticker.unref()
}

function stopTickerIfIdle(): void {
  if (watches.size === 0 && ticker) {
    realClearInterval(ticker)
    ticker = undefined
  }
}

export class WorkerWatch {
  private readonly tail: JournalTail
  private readonly runs = new Map<number, Watched>()
  private link: Promise<Link | null> | null = null
  /** The step at which the last session could not be opened (see InspectorTarget.unreachable). */
  private linkFailed: 'open' | 'enable' = 'open'
  /** Stops one at a time: they share the session. */
  private stops: Promise<void> = Promise.resolve()
  private stopping = 0
  private disposed = false
  /** The one timer of this worker, for the earliest stage due among its runs, and when that is (epoch ms; Infinity: none). */
  private timer: ReturnType<typeof setTimeout> | undefined
  private timerDue = Infinity
  private spawned = false

  constructor(journal: string, readonly target: InspectorTarget, private readonly owner: WatchOwner) {
    this.tail = new JournalTail(journal, WATCHED_KINDS)
    watches.add(this)
    startTicker()
  }

  poll(): void {
    if (this.disposed) return
    let lines: JournalLine[]
    try {
      lines = this.tail.read()
    } catch (error) {
      // A journal of another version: its runs cannot be watched. Said once; the worker runs on without the ladder's host stages.
      this.owner.log(oneLine(error instanceof Error ? error.message : String(error)))
      this.dispose()
      return
    }
    if (lines.length === 0) return
    for (const line of lines) this.apply(line)
    this.schedule()
  }

  /**
   * Whether the worker may have children carrying its mark: it said it
   * spawned one, or its journal can no longer tell (the process table is
   * then searched, as for any worker that said so).
   */
  mayHaveMarkedChildren(): boolean {
    this.poll()
    return this.spawned || this.disposed
  }

  /** The worker is gone or stopped: nothing more to watch. */
  dispose(): void {
    if (this.disposed) return
    this.disposed = true
    this.runs.clear()
    this.schedule()
    watches.delete(this)
    stopTickerIfIdle()
    this.tail.close()
    void this.closeLink()
  }

  /** One line of a read; the read's lines are applied together before the timer is set again (schedule). */
  private apply(line: JournalLine): void {
    if (line.kind === 'run') {
      if (line.budget <= 0) return
      this.runs.set(line.seq, { line, clockAt: line.at, pending: comingStages(line) })
    } else if (line.kind === 'done') {
      if (!this.runs.delete(line.seq)) return
      if (this.link && this.stopping === 0 && !this.anyPastBudget()) void this.closeLink()
    } else if (line.kind === 'spawn') {
      this.spawned = true
    } else if (line.kind === 'restart') {
      const run = this.runs.get(line.seq)
      if (!run) return
      run.clockAt = line.at
      run.pending = comingStages(run.line)
    }
  }

  /** The worker's timer, set for the earliest stage still to come among its runs (none when there is none). */
  private schedule(): void {
    let due = Infinity
    if (!this.disposed) {
      for (const run of this.runs.values()) {
        for (const stage of STAGES) if (run.pending & stage) due = Math.min(due, run.clockAt + stageMs(run.line, stage))
      }
    }
    if (due === this.timerDue) return
    if (this.timer) realClearTimeout(this.timer)
    this.timer = undefined
    this.timerDue = due
    // Within the longest delay: a stage's own delay from its run's start fits (stageMs).
    if (due !== Infinity) this.timer = unrefTimer(() => this.onTimer(), Math.max(0, due - Date.now()))
  }

  /**
   * Every stage due by now, earliest first (a stage before a later one of
   * the same run), after the journal's latest lines: a run that ended is
   * left alone.
   */
  private onTimer(): void {
    this.timer = undefined
    this.timerDue = Infinity
    this.poll()
    const now = Date.now()
    const due: Array<{ run: Watched; stage: Stage; at: number }> = []
    for (const run of this.runs.values()) {
      for (const stage of STAGES) {
        const at = run.clockAt + stageMs(run.line, stage)
        if (run.pending & stage && at <= now) {
          run.pending &= ~stage
          due.push({ run, stage, at })
        }
      }
    }
    due.sort((a, b) => a.at - b.at || a.stage - b.stage)
    for (const { run, stage } of due) {
      if (this.disposed) return
      if (stage === SLOW) this.slow(run)
      else if (stage === LINK) void this.openLink()
      else this.stopAt(run)
    }
    this.schedule()
  }

  /** Past its budget with a stop to come: the session stays open for it. */
  private anyPastBudget(): boolean {
    const now = Date.now()
    for (const run of this.runs.values()) if (run.clockAt + run.line.budget <= now && fitsTimer(run.line.budget + run.line.grace)) return true
    return false
  }

  /**
   * SLOW: a run past half its budget is announced once, as cargo-nextest
   * marks slow tests. From this process: the worker may be spinning.
   */
  private slow(run: Watched): void {
    if (!this.runs.has(run.line.seq) || run.announced) return
    run.announced = true
    const { line } = run
    const elapsed = (Date.now() - line.at) / 1000
    const what = line.subject === 'Test' ? '' : `${oneLine(line.subject)}: `
    this.owner.log(`vitest-watchdog: SLOW ${what}${oneLine(relative(this.owner.root, line.file) || line.file)} > ${oneLine(line.name)} (${elapsed.toFixed(1)}s of its ${(line.budget / 1000).toFixed(1)}s budget)`)
  }

  private stopAt(run: Watched): void {
    this.stopping++
    const { clockAt } = run
    this.stops = this.stops
      .then(() => this.stop(run.line.seq, clockAt))
      // A stage that failed (an inspector call that threw, say) goes on to the last one: a stop never gives up.
      .catch((error: unknown) => {
        if (!this.running(run.line.seq)) return
        this.owner.log(`vitest-watchdog: stopping ${oneLine(run.line.name)} failed (${oneLine(error instanceof Error ? error.message : String(error))}); its worker is killed instead.`)
        this.kill(run.line.seq, { reason: 'unconfirmed', location: null, stack: '' })
      })
      .finally(() => {
        this.stopping--
        // Not awaited: a worker already blocked in its next test closes its
        // inspector late, and the next stop must not wait for that.
        if (this.stopping === 0 && !this.anyPastBudget()) void this.closeLink().then(() => this.target.release())
      })
  }

  private running(seq: number): boolean {
    this.poll()
    return !this.disposed && this.runs.has(seq)
  }

  /**
   * Still running on the clocks this stop was armed with: they restart when a
   * concurrent sibling is interrupted, maybe while a stop before this one was
   * under way, and the restart arms a stop of its own.
   */
  private due(seq: number, clockAt: number): boolean {
    return this.running(seq) && this.runs.get(seq)?.clockAt === clockAt
  }

  private async stop(seq: number, clockAt: number): Promise<void> {
    if (!this.due(seq, clockAt)) return
    let previous: string | undefined
    let freed = 0
    for (let look = 0; look < MAX_LOOKS; look++) {
      const link = await this.openLink()
      if (!this.due(seq, clockAt)) return
      const blocked = !link ? { seq, ...(await this.target.unreachable(this.linkFailed, RESPONSIVE_BOUND_MS)), location: null, stack: '' } : null
      // The kernel is looked at over a few ms: the run may have ended meanwhile.
      if (blocked && !this.due(seq, clockAt)) return
      let decision: Decision = blocked ? { kind: 'kill', ...blocked } : await interrupt(link!, seq, look === 0 ? null : previous ?? '', () => this.running(seq))
      if (decision.kind === 'none' || decision.kind === 'interrupted') return
      if (decision.kind === 'debugger') return this.leaveToDebugger(seq)
      if (decision.kind === 'kill' && decision.reason === 'pause-not-taken') {
        decision = await this.whyNoPause(decision)
        if (!this.due(seq, clockAt)) return
      }
      if (decision.kind === 'kill' && decision.reason === 'blocked-outside-js' && freed === 0) {
        // Blocked on a child it waits for (execSync): kill that child, the
        // call returns, and the worker, its coverage and the rest of the file
        // live on. The run then ends by itself (the worker reports the stop
        // from the note), or its thread answers the next look.
        freed = this.freeBlocked(decision.seq)
        if (freed > 0) {
          await this.closeLink(false)
          await this.settleAfterFreeing(seq, clockAt)
          if (!this.due(seq, clockAt)) return
          continue
        }
      }
      if (decision.kind === 'kill') return this.kill(decision.seq, freed > 0 && decision.observed ? { ...decision, observed: { ...decision.observed, childrenKilled: freed } } : decision)
      previous = decision.where
      // Look again on a fresh session: closing this one resumes the thread and drops a pending pause or step.
      await this.closeLink(false)
      await new Promise((resolve) => unrefTimer(() => resolve(null), LOOK_AGAIN_MS))
      if (!this.due(seq, clockAt)) return
    }
    this.kill(seq, { reason: 'unconfirmed', location: null, stack: '', observed: { step: 'looks', bound: MAX_LOOKS } })
  }

  /**
   * A debugger holds the run's thread paused: stepping through a test is
   * never cut short. For this stop only: the next run's stop looks again, so
   * a debugger that is gone (or never was) stands nothing down for good.
   */
  private async leaveToDebugger(seq: number): Promise<void> {
    const line = this.runs.get(seq)?.line
    if (line) this.owner.log(`vitest-watchdog: ${oneLine(relative(this.owner.root, line.file) || line.file)} > ${oneLine(line.name)} is paused in a debugger; this stop leaves it alone (the next test is watched as before).`)
    await this.closeLink()
  }

  /**
   * The thread answered the inspector but did not pause: the kernel says
   * whether it sleeps (a system call: blocked outside JavaScript) or runs
   * (JavaScript the debugger does not break in, or a native loop).
   */
  private async whyNoPause(decision: Extract<Decision, { kind: 'kill' }>): Promise<Extract<Decision, { kind: 'kill' }>> {
    const view = await this.target.kernelView()
    const sleeping = view.state === 'S' || view.state === 'D'
    return { ...decision, reason: sleeping ? 'blocked-outside-js' : 'pause-not-taken', observed: { step: 'pause', bound: decision.observed?.bound ?? 0, ...view } }
  }

  /**
   * Kills the children run `seq`'s thread is blocked on, after leaving the
   * worker a note; how many. 0: there were none, or the worker could not be
   * told (killing the child then would pass the run off as ended by itself),
   * or they could not be killed: the worker is killed instead.
   */
  private freeBlocked(seq: number): number {
    try {
      const pids = this.target.blockingChildren(this.runs.get(seq)?.line.at ?? Date.now())
      if (pids.length === 0) return 0
      this.owner.note({ kind: 'freed', seq, pids })
      for (const pid of pids) killTree(pid)
      return pids.length
    } catch {
      return 0
    }
  }

  /** Waits, bounded, for the freed run to end by itself. */
  private async settleAfterFreeing(seq: number, clockAt: number): Promise<void> {
    const until = Date.now() + RESPONSIVE_BOUND_MS
    while (Date.now() < until && this.due(seq, clockAt)) await new Promise((resolve) => unrefTimer(() => resolve(null), TAIL_TICK_MS))
  }

  /** Opens the session and enables the Debugger, once; null when the thread did not answer in time. */
  private openLink(): Promise<Link | null> {
    if (this.disposed) return Promise.resolve(null)
    if (!this.link) {
      // Until the thread answers: a stop that finds it unanswered then has its kernel looks already.
      this.target.sampleKernel(true)
      const link: Promise<Link | null> = openLink(this.target, RESPONSIVE_BOUND_MS, (step) => (this.linkFailed = step)).then((opened) => {
        if (opened && this.link === link) this.target.sampleKernel(false)
        return opened
      })
      this.link = link
    }
    return this.link
  }

  /** `final`: the stop is over (see InspectorTarget.close). */
  private async closeLink(final = true): Promise<void> {
    this.target.sampleKernel(false)
    const pending = this.link
    this.link = null
    const link = await pending?.catch(() => null)
    if (link) await this.target.close(link.client, final).catch(() => {})
  }

  private kill(seq: number, found: { reason: StopReason; location: SourceLocation | null; stack: string; asyncId?: number; observed?: Observation }): void {
    const run = this.runs.get(seq)
    if (!run || this.disposed) return
    const { line } = run
    const abandon = this.target.kind === 'thread' && found.reason === 'unsafe-async-callback'
    const stop: Stop = {
      subject: line.subject,
      stage: 'kill',
      reason: found.reason,
      killAfter: line.budget,
      budgetSource: line.budgetSource,
      grace: line.grace,
      elapsedMs: Date.now() - line.at,
      location: found.location,
      stack: found.stack,
      hadSignal: line.hadSignal,
      resumed: true,
      ...(found.asyncId !== undefined ? { asyncId: found.asyncId } : {}),
      ...(abandon ? { abandoned: true } : {}),
      ...(found.observed ? { observed: found.observed } : {}),
    }
    this.dispose()
    this.owner.kill(stop, line, abandon)
  }
}

async function openLink(target: InspectorTarget, boundMs: number, failed: (step: 'open' | 'enable') => void): Promise<Link | null> {
  const until = Date.now() + boundMs
  let client
  try {
    client = await target.open(boundMs)
  } catch {
    failed('open')
    return null
  }
  const link: Link = { client, scripts: new Map(), heldElsewhere: false, driving: false }
  followPauses(link)
  client.on('Debugger.scriptParsed', (script: { scriptId: string; url: string }) => {
    if (script.url) link.scripts.set(script.scriptId, script.url)
  })
  try {
    await client.post('Debugger.enable', {}, Math.max(1, until - Date.now()))
    return link
  } catch {
    failed('enable')
    await target.close(client, true).catch(() => {})
    return null
  }
}
