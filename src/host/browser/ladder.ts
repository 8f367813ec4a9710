/**
 * The main process's part of the ladder in browser mode. The page announces
 * each guarded run through a browser command (src/browser/guard.ts); a run
 * that has not ended at budget + grace is interrupted over CDP
 * (interrupt.ts), and a page that does not answer is closed (stage kill).
 * A run that ends in time costs one message each way and nothing else.
 */
import type { BrowserCommand, TestProject } from 'vitest/node'
import { DONE_COMMAND, RUN_COMMAND, type RunMessage } from '../../shared/browser-protocol.js'
import { PageDebugger, type CdpSession } from './interrupt.js'

interface CommandContext {
  project: TestProject
  sessionId: string
  testPath: string | undefined
  provider: { name: string; getCDPSession?: (sessionId: string) => Promise<CdpSession> }
  /** Playwright's page, from the provider's command context. */
  page?: { close(options?: object): Promise<void>; isClosed(): boolean }
}

interface Watched {
  run: RunMessage
  context: CommandContext
  timer: ReturnType<typeof setTimeout>
  /** How many times the page paused in another frame's run instead. */
  elsewhere: number
}

/**
 * Frames of one page share its thread: while another frame's run spins, this
 * one cannot run, and is looked at again one grace period later, after that
 * run's own stop. Past this many looks the page is not making progress.
 */
const ELSEWHERE_LOOKS = 10
/** With grace 0, the next look still waits for the other run's stop to land (a stop takes a few ms). */
const MIN_LOOK_AGAIN_MS = 100

export class BrowserLadder {
  private readonly runs = new Map<string, Watched>()
  /** One debugger per page (a Vitest browser session), enabled at its first run while the page waits. */
  private readonly debuggers = new Map<string, Promise<PageDebugger | null>>()

  /** The commands the plugin registers for browser projects (`test.browser.commands`). */
  commands(): Record<string, BrowserCommand<never>> {
    return {
      [RUN_COMMAND]: ((context: CommandContext, run: RunMessage) => this.started(context, run)) as unknown as BrowserCommand<never>,
      [DONE_COMMAND]: ((context: CommandContext, { frame, seq }: { frame: string; seq: number }) => this.ended(context, frame, seq)) as unknown as BrowserCommand<never>,
    }
  }

  private key(context: CommandContext, frame: string, seq: number): string {
    return `${context.sessionId}\0${frame}\0${seq}`
  }

  /** Answers once the page's debugger is ready: the page's first run waits for that answer. */
  private async started(context: CommandContext, run: RunMessage): Promise<void> {
    await this.debuggerOf(context)
    if (run.budget === 0) return
    this.arm(this.key(context, run.frame, run.seq), { run, context, elsewhere: 0 }, run.budget + run.grace)
  }

  private arm(key: string, watched: Omit<Watched, 'timer'>, ms: number): void {
    const timer = setTimeout(() => void this.stop(key), ms)
    // The watchdog is never the reason the main process stays alive.
    timer.unref()
    this.runs.set(key, { ...watched, timer })
  }

  private debuggerOf(context: CommandContext): Promise<PageDebugger | null> {
    let found = this.debuggers.get(context.sessionId)
    if (!found) {
      const { provider, sessionId } = context
      found = provider.getCDPSession ? PageDebugger.open(() => provider.getCDPSession!(sessionId)).catch(() => null) : Promise.resolve(null)
      this.debuggers.set(sessionId, found)
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
    const watched = this.runs.get(key)
    if (!watched) return
    this.runs.delete(key)
    const { context, run } = watched
    const pageDebugger = await this.debuggerOf(context)
    if (!pageDebugger) return
    const outcome = await pageDebugger.interrupt(context.project, run.frame, run.seq)
    if (outcome.kind === 'elsewhere' && watched.elsewhere < ELSEWHERE_LOOKS) {
      this.arm(key, { ...watched, elsewhere: watched.elsewhere + 1 }, Math.max(run.grace, MIN_LOOK_AGAIN_MS))
      return
    }
    if (outcome.kind === 'unanswered' || outcome.kind === 'elsewhere') {
      context.project.vitest.logger.error(`vitest-watchdog: ${run.subject} (${run.name}) in ${run.file} did not answer the debugger (${outcome.kind === 'unanswered' ? outcome.why : 'the page kept pausing in another frame'}).`)
    }
  }
}
