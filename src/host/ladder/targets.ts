import { ENDPOINT_PID, endpointCall } from '../../shared/endpoint.js'
import { childMark } from '../../shared/child-mark.js'
import { markedProcesses, statFields, unmarkedChildrenSince } from '../../shared/process-tree.js'
import { liveWorkerPids } from '../process-registry.js'
import type { StopReason } from '../../shared/stop.js'
import { realClearTimeout, unrefTimer } from '../../shared/clock.js'
import { CdpClient, InspectorTimeoutError, WebSocketClient, WorkerThreadClient } from './cdp-client.js'
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
  /** Why the thread could not be reached: the reason the kill is reported with. */
  unreachableReason(): StopReason
  /** The stop is over: nothing it opened stays open. */
  release(): Promise<void>
  /** The children the thread waits on synchronously (execSync) while run started at `runAt` is blocked: killing them frees it. */
  blockingChildren(runAt: number): number[]
  /** Every child the thread spawned (the run started at `runAt` included): they die with it. */
  ownChildren(runAt: number): number[]
}

/** Closing the inspector from inside, on the worker's next turn (see Endpoint.closeInspector); sent without waiting. */
const CLOSE_INSPECTOR = endpointCall('closeInspector')
/** Cancels that close when a new stop reuses the inspector before it happened. */
const KEEP_INSPECTOR = endpointCall('keepInspector')
/**
 * How long a final close waits for the worker to close its inspector (the
 * server then drops our socket). An idle worker does it on its next turn of
 * the event loop, within a few ms; a worker already busy (or blocked) in its
 * next test does not, and the inspector is then reused by the next stop. The
 * wait holds our session open, and a session held open delays the next one
 * (seen: a blocked test's kill 500 ms late with a 500 ms bound), so it is short.
 */
const CLOSED_BOUND_MS = 50

/**
 * An inspector whose URL came after its stop no longer needed it (the thread
 * was blocked in a system call when SIGUSR1 came, and came back later) is
 * connected to only to close it again. A second covers a local handshake.
 */
const LATE_CLOSE_BOUND_MS = 1_000

/**
 * A worker process started with `--inspect-port=0 --inspect-publish-uid=stderr`.
 * SIGUSR1 (what `process._debugProcess` sends on POSIX) opens its inspector
 * on 127.0.0.1 at a random port; Node handles the signal on a thread of its
 * own, so a spinning thread answers within milliseconds. A thread blocked in
 * a system call does not: the inspector starts only once the call returns.
 *
 * An inspector that is open already (a test's `inspector.open()`, a user's
 * SIGUSR1) prints nothing new on SIGUSR1: the URLs the worker printed before
 * are tried then. A URL from stderr is only a hint: a session on it is used
 * only when the endpoint there answers with this worker's pid.
 */
export class ProcessTarget implements InspectorTarget {
  readonly kind = 'process'
  private urlCame = true
  /** The inspector's URL while it is open (from its SIGUSR1 until it is seen closed). */
  private url: string | null = null
  /** Whether the watchdog opened the inspector at `url` (and closes it), or found it open. */
  private ours = false
  private waiting: ((url: string) => void) | null = null
  private session: CdpClient | null = null

  constructor(private readonly pid: number, private readonly output: InspectorOutput) {}

  async open(boundMs: number): Promise<CdpClient> {
    const until = Date.now() + boundMs
    const left = () => Math.max(1, until - Date.now())
    if (this.url) {
      const client = await this.connect(this.url, left())
      if (client instanceof CdpClient) return this.opened(client)
      // Open but silent: a thread blocked in a system call. It stays known for the next look.
      if (client === 'silent') throw new InspectorTimeoutError('Runtime.evaluate', boundMs)
      // Closed since (or never this worker's): signal again.
      this.url = null
    }
    // The URL may come long after the signal (a thread blocked in a call
    // starts its inspector once the call returns): it is kept when it does.
    const came = new Promise<string>((resolve) => (this.waiting = resolve))
    this.output.expectUrl((url) => {
      this.url = url
      this.ours = true
      this.urlCame = true
      this.waiting?.(url)
      this.waiting = null
    })
    this.urlCame = false
    process.kill(this.pid, 'SIGUSR1')
    let timer: ReturnType<typeof setTimeout> | undefined
    const bound = new Promise<null>((resolve) => (timer = unrefTimer(() => resolve(null), left())))
    const fresh = Promise.race([came, bound]).then(async (url): Promise<Found | null> => {
      const client = url ? await this.connect(url, left()) : null
      return client instanceof CdpClient && url ? { client, url, ours: true } : null
    })
    const found = await firstFound([fresh, this.firstOfSeen(until)])
    realClearTimeout(timer!)
    if (!found) throw new InspectorTimeoutError('SIGUSR1 (no inspector URL on stderr, and none seen before that is this worker\'s)', boundMs)
    this.url = found.url
    this.ours = found.ours
    if (!found.ours) {
      // Someone else's inspector: lines after this are not the watchdog's either.
      this.waiting = null
      this.output.release()
    }
    return this.opened(found.client)
  }

  /** An inspector open before the signal: the URLs seen on stderr, newest first, the first that is this worker's. */
  private async firstOfSeen(until: number): Promise<Found | null> {
    for (const url of this.output.seenUrls()) {
      if (Date.now() >= until) break
      const client = await this.connect(url, Math.max(1, until - Date.now()))
      if (client instanceof CdpClient) return { client, url, ours: false }
    }
    return null
  }

  /**
   * A session on `url` if it is this worker's inspector (its endpoint answers
   * with this pid). Otherwise why not: nothing listens there (`closed`),
   * another process's inspector or a wrong answer (`other`), or no answer in
   * time (`silent`: not this worker's, or its thread is blocked in a call).
   */
  private async connect(url: string, boundMs: number): Promise<CdpClient | 'closed' | 'other' | 'silent'> {
    const until = Date.now() + boundMs
    let client: CdpClient
    try {
      client = await WebSocketClient.connect(url, boundMs)
    } catch {
      return 'closed'
    }
    let why: 'other' | 'silent' = 'other'
    try {
      const answer = await client.post<{ result?: { value?: unknown } }>('Runtime.evaluate', { expression: ENDPOINT_PID, returnByValue: true, silent: true }, Math.max(1, until - Date.now()))
      if (answer.result?.value === this.pid) return client
    } catch (error) {
      if (error instanceof InspectorTimeoutError) why = 'silent'
    }
    await client.close()
    return why
  }

  private opened(client: CdpClient): CdpClient {
    this.session = client
    if (this.ours) client.fire('Runtime.evaluate', { expression: KEEP_INSPECTOR })
    return client
  }

  async close(client: CdpClient, final: boolean): Promise<void> {
    if (this.session === client) this.session = null
    if (!final) return client.close()
    if (!this.ours) {
      // Someone else's inspector: only the session goes; the next stop looks again from the URLs seen.
      this.url = null
      return client.close()
    }
    client.fire('Runtime.evaluate', { expression: CLOSE_INSPECTOR })
    // Closed when the worker's inspector drops the connection; otherwise it stays known, for the next stop.
    if (await client.closedWithin(CLOSED_BOUND_MS)) {
      this.url = null
      this.output.release()
    }
    await client.close()
  }

  /** The stop is over: an inspector it opened and no session uses (its URL came late) is closed. */
  async release(): Promise<void> {
    if (!this.url || this.session || !this.ours) return
    try {
      await this.close(await WebSocketClient.connect(this.url, LATE_CLOSE_BOUND_MS), true)
    } catch {
      // The worker is gone, or going: its inspector with it.
      this.url = null
    }
  }

  /**
   * No URL at all: a process that runs JavaScript (state R) would have
   * answered SIGUSR1 at once, unless the test took SIGUSR1 for itself; one
   * that sleeps in a system call cannot.
   */
  unreachableReason(): StopReason {
    return !this.urlCame && processState(this.pid) === 'R' ? 'inspector-unavailable' : 'blocked-outside-js'
  }

  blockingChildren(runAt: number): number[] {
    const marked = markedProcesses(childMark(this.pid, 0, 'sync'))
    return marked.length > 0 ? marked : unmarkedChildrenSince(this.pid, runAt)
  }

  ownChildren(): number[] {
    return markedProcesses(`${this.pid}:0:`)
  }
}

/** A test thread of this process, through the main thread's own inspector: no port. */
export class ThreadTarget implements InspectorTarget {
  readonly kind = 'thread'

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

  async release(): Promise<void> {}

  blockingChildren(runAt: number): number[] {
    const marked = markedProcesses(childMark(process.pid, this.threadId, 'sync'))
    return marked.length > 0 ? marked : unmarkedChildrenSince(process.pid, runAt, liveWorkerPids())
  }

  ownChildren(runAt: number): number[] {
    return [...markedProcesses(`${process.pid}:${this.threadId}:`), ...this.blockingChildren(runAt)]
  }
}

/** A session on a worker's inspector, at `url`; `ours`: the watchdog's SIGUSR1 opened it. */
interface Found {
  client: CdpClient
  url: string
  ours: boolean
}

/** The first of `attempts` to find a session; null when none does. A session found later is closed. */
function firstFound(attempts: Array<Promise<Found | null>>): Promise<Found | null> {
  return new Promise((resolve) => {
    let left = attempts.length
    let winner: Found | null = null
    const settle = (found: Found | null) => {
      left--
      if (found && !winner) {
        winner = found
        resolve(found)
      } else if (found) void found.client.close()
      if (left === 0 && !winner) resolve(null)
    }
    for (const attempt of attempts) attempt.then(settle, () => settle(null))
  })
}

/** The process's state letter from /proc (R running, S sleeping, D disk wait...); '' where there is no /proc. */
function processState(pid: number): string {
  return statFields(pid)?.[0] ?? ''
}
