/**
 * The main process's part of the ladder in browser mode. The page announces
 * each guarded run through a browser command (src/browser/guard.ts); a run
 * that has not ended at budget + grace is interrupted over CDP
 * (interrupt.ts), and a page that does not answer is closed (stage kill).
 * A run that ends in time costs one message each way and nothing else.
 */
import { relative } from 'node:path'
import type { BrowserCommand, TestProject } from 'vitest/node'
import { DONE_COMMAND, MAP_COMMAND, RUN_COMMAND, type BindingMessage, type MappedStack, type RunMessage } from '../../shared/browser-protocol.js'
import { oneLine } from '../../shared/one-line.js'
import { NO_CDP_KILL_MARGIN_MS, stopDetail, type Stop, type StopReason } from '../../shared/stop.js'
import { stageTimer } from '../../shared/clock.js'
import { bounded, PageSession, type CdpSession } from './interrupt.js'
import { pageAnnounced, pageKilled } from './page-respawn.js'
import { userLocation, userStack } from './source-map.js'

interface CommandContext {
  project: TestProject
  sessionId: string
  testPath: string | undefined
  provider: { name: string; getCDPSession?: (sessionId: string) => Promise<CdpSession> }
  /** Playwright's page, from the provider's command context. */
  page?: { close(options?: object): Promise<void>; isClosed(): boolean }
}

/** A stop the main process decided alone: the page that would have reported it is gone. */
export type HostStopSink = (project: TestProject, file: string, test: string, stop: Stop) => void

/**
 * Closing a page whose renderer is stuck: the browser tears the renderer
 * down without asking it, which takes well under a second even under load.
 */
const CLOSE_BOUND_MS = 5_000

interface Watched {
  run: RunMessage
  context: CommandContext
  timer: ReturnType<typeof setTimeout>
  /** How many times the page was found idle with the run still waiting. */
  looks: number
  /** When the main process learnt of the run (epoch ms). */
  began: number
  /** No CDP session for this page: the stop waits NO_CDP_KILL_MARGIN_MS more before closing it. */
  noCdpWait?: boolean
}


/**
 * A run found waiting on an idle page is ended by the page's own timer, due
 * at the same moment as the main process's; it is looked at again one grace
 * period later. Past this many looks the page's timers are not firing (a
 * page that stopped running tasks) and it is closed.
 */
const WAITING_LOOKS = 10
/** With grace 0, the next look still leaves the page's own stop time to land (it takes a few ms). */
const MIN_LOOK_AGAIN_MS = 100

/** The ladder serving each browser project (the one whose commands its pages call). */
const serving = new WeakMap<TestProject, BrowserLadder>()

/**
 * A page of a guarded project has connected (its orchestrator registered with
 * Vitest): its CDP session is opened now, while Vitest loads the first tester
 * frame, so the page's first run need not wait for it.
 */
export function pageConnected(project: TestProject, sessionId: string): void {
  serving.get(project)?.prepare(project, sessionId)
}

export class BrowserLadder {
  private readonly runs = new Map<string, Watched>()
  /** One CDP session per page (a Vitest browser session), opened at its first run while the page waits. */
  private readonly sessions = new Map<string, Promise<PageSession | null>>()

  constructor(private readonly onHostStop: HostStopSink) {}

  /** This ladder's commands are the ones `project`'s pages call. */
  serve(project: TestProject): void {
    serving.set(project, this)
  }

  /** Opens the CDP session of a page ahead of its first run (see pageConnected). */
  prepare(project: TestProject, sessionId: string): void {
    if (this.sessions.has(sessionId)) return
    const provider = (project as unknown as { browser?: { provider?: CommandContext['provider'] & { getCommandsContext?: (sessionId: string) => { page?: CommandContext['page'] } } } }).browser?.provider
    if (!provider?.getCDPSession) return
    let page: CommandContext['page']
    try {
      page = provider.getCommandsContext?.(sessionId).page
    } catch {
      // No page for this session (the provider closed it meanwhile): its first run opens the session, as without this.
      return
    }
    void this.sessionOf({ project, sessionId, testPath: undefined, provider, page })
  }

  /** The commands the plugin registers for browser projects (`test.browser.commands`). */
  commands(): Record<string, BrowserCommand<never>> {
    return {
      [RUN_COMMAND]: ((context: CommandContext, run: RunMessage) => this.started(context, run).then(() => undefined)) as unknown as BrowserCommand<never>,
      [MAP_COMMAND]: ((context: CommandContext, stacks: string[]): MappedStack[] =>
        stacks.map((stack) => ({ location: userLocation(context.project, stack, context.project.config.root), stack: userStack(context.project, stack) }))) as unknown as BrowserCommand<never>,
      [DONE_COMMAND]: ((context: CommandContext, { frame, seq }: { frame: string; seq: number }) => this.ended(context, frame, seq)) as unknown as BrowserCommand<never>,
    }
  }

  private key(context: CommandContext, frame: string, seq: number): string {
    return `${context.sessionId}\0${frame}\0${seq}`
  }

  /**
   * Armed at once (the run's `done` may be in the same chunk of the socket,
   * handled before any await here returns); answers once the page's session
   * is ready: the page's first run waits for that answer, and later runs
   * are announced through the session's binding.
   */
  private started(context: CommandContext, run: RunMessage): Promise<unknown> {
    pageAnnounced(context.sessionId, run)
    if (run.budget !== 0) this.arm(this.key(context, run.frame, run.seq), { run, context, looks: 0 }, run.budget + run.grace)
    return this.sessionOf(context)
  }

  /** A message the page sent through the session's binding. */
  private received(context: CommandContext, session: PageSession, message: BindingMessage): void {
    if (message.kind === 'done') return this.ended(context, message.frame, message.seq)
    pageAnnounced(context.sessionId, message.run)
    if (message.run.seq === 1) session.frameBegan()
    if (message.run.budget !== 0) this.arm(this.key(context, message.run.frame, message.run.seq), { run: message.run, context, looks: 0 }, message.run.budget + message.run.grace)
  }

  /** A stop past the longest timer never comes: the run is not watched. */
  private arm(key: string, watched: Omit<Watched, 'timer' | 'began'> & { began?: number }, ms: number): void {
    // Unref'd: the watchdog is never the reason the main process stays alive.
    const timer = stageTimer(() => void this.stop(key), ms)
    if (timer === undefined) {
      this.runs.delete(key)
      return
    }
    this.runs.set(key, { began: Date.now(), ...watched, timer })
  }

  private sessionOf(context: CommandContext): Promise<PageSession | null> {
    let found = this.sessions.get(context.sessionId)
    if (!found) {
      const { provider, sessionId } = context
      let session: PageSession | null = null
      found = provider.getCDPSession
        ? PageSession.open(() => provider.getCDPSession!(sessionId), (message) => session && this.received(context, session, message)).then((opened) => (session = opened)).catch(() => null)
        : Promise.resolve(null)
      this.sessions.set(sessionId, found)
    }
    return found
  }

  private ended(context: CommandContext, frame: string, seq: number): void {
    const key = this.key(context, frame, seq)
    const watched = this.runs.get(key)
    if (!watched) return
    clearTimeout(watched.timer)
    this.runs.delete(key)
  }

  private async stop(key: string): Promise<void> {
    const due = this.runs.get(key)
    if (!due) return
    const session = await this.sessionOf(due.context)
    if (session) await session.exclusive(() => this.stopNow(key, due, session))
    else await this.stopNow(key, due, null)
  }

  private async stopNow(key: string, due: Watched, session: PageSession | null): Promise<void> {
    // A stop queued behind another may find its run ended, stopped or re-armed by it.
    if (this.runs.get(key) !== due) return
    const watched = due
    const { context, run } = watched
    // The entry stays while the stop is under way: the run's `done` may come
    // meanwhile (it ended by its own timer), and then nothing more is done.
    const stillDue = () => this.runs.get(key) === watched
    if (!session) {
      // No CDP (Firefox, WebKit): the page's own never-settled timer, due now,
      // ends an idle run; only a run still going a while later is closed.
      if (!watched.noCdpWait) this.arm(key, { ...watched, noCdpWait: true }, NO_CDP_KILL_MARGIN_MS)
      else {
        this.runs.delete(key)
        await this.kill(watched, 'inspector-unavailable', 'no CDP session on this page')
      }
      return
    }
    const outcome = await session.interrupt(context.project, run.frame, run.seq)
    if (outcome.kind === 'stopped') {
      // Concurrent tests: the stopped run may be a sibling of the one whose
      // deadline passed; the others' clocks started again in the page.
      const stoppedKey = this.key(context, run.frame, outcome.seq)
      const stopped = this.runs.get(stoppedKey)
      if (stopped) clearTimeout(stopped.timer)
      this.runs.delete(stoppedKey)
      for (const seq of outcome.restarted) {
        const siblingKey = this.key(context, run.frame, seq)
        const sibling = this.runs.get(siblingKey)
        if (!sibling) continue
        clearTimeout(sibling.timer)
        this.arm(siblingKey, { run: sibling.run, context: sibling.context, looks: 0 }, sibling.run.budget + sibling.run.grace)
      }
      return
    }
    if (!stillDue()) return
    if (outcome.kind === 'ended') {
      this.runs.delete(key)
      return
    }
    if (outcome.kind === 'waiting' && watched.looks < WAITING_LOOKS) {
      this.arm(key, { ...watched, looks: watched.looks + 1 }, Math.max(run.grace, MIN_LOOK_AGAIN_MS))
      return
    }
    this.runs.delete(key)
    if (outcome.kind === 'unanswered') await this.kill(watched, 'blocked-outside-js', outcome.why)
    else await this.kill(watched, 'unconfirmed', "the page stayed idle and the run's own timers never ended it")
  }

  /**
   * Stage kill: the page's JavaScript could not be terminated (a renderer stuck
   * in native code, a synchronous request that never returns, a crashed
   * tab). It is closed, and the rest of its file goes on in a fresh page
   * (page-respawn.ts), whose run reports the stop as the killed test's
   * failure; when the file cannot go on there, the stop goes into the
   * report from here.
   */
  private async kill(watched: Watched, reason: StopReason, why: string): Promise<void> {
    const { context, run } = watched
    const { vitest } = context.project
    const stop: Stop = {
      subject: run.subject,
      stage: 'kill',
      reason,
      killAfter: run.budget,
      budgetSource: run.budgetSource,
      grace: run.grace,
      elapsedMs: Date.now() - watched.began,
      location: null,
      stack: '',
      inPage: true,
    }
    vitest.logger.error(`vitest-watchdog: ${oneLine(`${relative(vitest.config.root, run.file)} > ${run.name}`)}: ${stopDetail(stop, vitest.config.root)} (${why})`)
    const report = () => this.onHostStop(context.project, run.file, run.name, stop)
    if (!pageKilled(context.sessionId, run, stop, report)) report()
    this.sessions.delete(context.sessionId)
    for (const [key, other] of this.runs) {
      if (other.context.sessionId !== context.sessionId) continue
      clearTimeout(other.timer)
      this.runs.delete(key)
    }
    await bounded(context.page?.close() ?? Promise.resolve(), 'closing the page', CLOSE_BOUND_MS).catch(() => {})
  }
}
