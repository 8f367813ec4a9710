import { readFileSync } from 'node:fs'
import { endpointCall } from '../../shared/endpoint.js'
import type { StopReason } from '../../shared/stop.js'
import { realClearTimeout, unrefTimer } from '../../shared/clock.js'
import { InspectorTimeoutError, WebSocketClient, WorkerThreadClient, type CdpClient } from './cdp-client.js'
import type { InspectorOutput } from './inspector-output.js'

/**
 * How the main process reaches a worker's test thread through the inspector,
 * for each kind of worker. Nothing is open between stops.
 */
export interface InspectorTarget {
  readonly kind: 'process' | 'thread'
  /** Opens a session on the test thread; rejects when it cannot within `boundMs`. */
  open(boundMs: number): Promise<CdpClient>
  /**
   * Ends the session. `final`: the stop is over; a process's inspector is
   * closed too, so no port stays open. Otherwise it stays open for the next
   * look at the same stop.
   */
  close(client: CdpClient, final: boolean): Promise<void>
  /** A user's debugger is attached to this worker: the ladder stands down. */
  readonly userDebugger: boolean
  /** Why the thread could not be reached: the reason the kill is reported with. */
  unreachableReason(): StopReason
}

/** Closing the inspector from inside, on the worker's next turn (see Endpoint.closeInspector); sent without waiting. */
const CLOSE_INSPECTOR = endpointCall('closeInspector')
/** Cancels that close when a new stop reuses the inspector before it happened. */
const KEEP_INSPECTOR = endpointCall('keepInspector')
/**
 * How long a final close waits for the worker to close its inspector (the
 * server then drops our socket). An idle worker does it on its next turn; a
 * worker already spinning in its next test does not, and the inspector is
 * then reused by the next stop.
 */
const CLOSED_BOUND_MS = 500

/**
 * A URL printed after the watchdog stopped waiting for it (the thread was
 * blocked in a system call when SIGUSR1 came, and came back later): connected
 * to only to close that inspector again. A second covers a local handshake.
 */
const LATE_CLOSE_BOUND_MS = 1_000

/**
 * A worker process started with `--inspect-port=0 --inspect-publish-uid=stderr`.
 * SIGUSR1 (what `process._debugProcess` sends on POSIX) opens its inspector
 * on 127.0.0.1 at a random port; Node handles the signal on a thread of its
 * own, so a spinning thread answers within milliseconds. A thread blocked in
 * a system call does not: the inspector starts only once the call returns.
 */
export class ProcessTarget implements InspectorTarget {
  readonly kind = 'process'
  private urlCame = true
  /** The inspector's URL while it is open (between the watchdog's SIGUSR1 and its close). */
  private url: string | null = null

  constructor(private readonly pid: number, private readonly output: InspectorOutput) {
    output.onLateUrl((url) => void this.closeLate(url))
  }

  get userDebugger(): boolean {
    return this.output.userDebugger
  }

  async open(boundMs: number): Promise<CdpClient> {
    if (this.url) {
      try {
        const client = await WebSocketClient.connect(this.url, boundMs)
        client.fire('Runtime.evaluate', { expression: KEEP_INSPECTOR })
        return client
      } catch {
        // Closed since: open it again.
        this.url = null
      }
    }
    const started = Date.now()
    const url = this.output.expectUrl()
    this.urlCame = false
    process.kill(this.pid, 'SIGUSR1')
    let timer: ReturnType<typeof setTimeout> | undefined
    const found = await Promise.race([url, new Promise<null>((resolve) => (timer = unrefTimer(() => resolve(null), boundMs)))])
    realClearTimeout(timer!)
    if (!found) throw new InspectorTimeoutError('SIGUSR1 (no inspector URL on stderr)', boundMs)
    this.urlCame = true
    this.url = found
    return WebSocketClient.connect(found, Math.max(1, boundMs - (Date.now() - started)))
  }

  async close(client: CdpClient, final: boolean): Promise<void> {
    if (!final) return client.close()
    client.fire('Runtime.evaluate', { expression: CLOSE_INSPECTOR })
    // Closed when the worker's inspector drops the connection; otherwise it stays known, for the next stop.
    if (await client.closedWithin(CLOSED_BOUND_MS)) {
      this.url = null
      this.output.release()
    }
    await client.close()
  }

  /**
   * No URL at all: a process that runs JavaScript (state R) would have
   * answered SIGUSR1 at once, unless the test took SIGUSR1 for itself; one
   * that sleeps in a system call cannot.
   */
  unreachableReason(): StopReason {
    return !this.urlCame && processState(this.pid) === 'R' ? 'inspector-unavailable' : 'blocked-outside-js'
  }

  private async closeLate(url: string): Promise<void> {
    try {
      await this.close(await WebSocketClient.connect(url, LATE_CLOSE_BOUND_MS), true)
    } catch {
      // The worker is gone, or going: its inspector with it.
    }
  }
}

/** A test thread of this process, through the main thread's own inspector: no port. */
export class ThreadTarget implements InspectorTarget {
  readonly kind = 'thread'
  readonly userDebugger = false

  constructor(private readonly threadId: number) {}

  open(boundMs: number): Promise<CdpClient> {
    return WorkerThreadClient.attach(this.threadId, boundMs)
  }

  close(client: CdpClient): Promise<void> {
    return client.close()
  }

  unreachableReason(): StopReason {
    return 'blocked-outside-js'
  }
}

/** The process's state letter from /proc (R running, S sleeping, D disk wait...); '' where there is no /proc. */
function processState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
  } catch {
    return ''
  }
}
