import { readFileSync, readlinkSync } from 'node:fs'
import { ENDPOINT_PID, endpointCall } from '../../shared/endpoint.js'
import { childMark } from '../../shared/child-mark.js'
import { childrenSince, markedProcesses, statFields, type ChildEntry } from '../../shared/process-tree.js'
import { liveWorkerPids } from '../process-registry.js'
import { reaperPid } from '../reaper.js'
import type { Observation, StopReason } from '../../shared/stop.js'
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
  /**
   * The thread could not be reached (`failed`: opening the session, or
   * enabling the Debugger on it, within `boundMs`): the reason the kill is
   * reported with, and what was seen.
   */
  unreachable(failed: 'open' | 'enable', boundMs: number): Promise<{ reason: StopReason; observed: Observation }>
  /** What the kernel says of the test thread over a short look; nothing where it cannot tell (a worker thread, no /proc). */
  kernelView(): Promise<KernelView>
  /**
   * Samples the thread's kernel state while a session is being opened (`on`),
   * so that a stop finding it unanswered has its looks already.
   */
  sampleKernel(on: boolean): void
  /** The stop is over: nothing it opened stays open. */
  release(): Promise<void>
  /** The children the thread waits on synchronously (execSync) while run started at `runAt` is blocked: killing them frees it. */
  blockingChildren(runAt: number): number[]
  /** Every child the thread spawned (the run started at `runAt` included): they die with it. */
  ownChildren(runAt: number): number[]
}

type KernelView = Pick<Observation, 'state' | 'wchan' | 'stderrClosed'>

/**
 * The kernel's state of a thread is read this many times, this many ms apart:
 * a thread that runs JavaScript sleeps for moments too (waiting for GC helper
 * threads, say, more often on a loaded machine), while one blocked in a system
 * call sleeps in every look.
 */
const KERNEL_LOOKS = 5
const KERNEL_LOOK_MS = 10

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
  /** Kernel states sampled while a session was being opened, oldest first (see sampleKernel). */
  private samples: Array<{ at: number; state: string }> = []
  private sampler: ReturnType<typeof setTimeout> | null = null

  /** What the worker's fd 2 was when it started (Linux): a test that closes it may see the number reused, by the inspector's own socket even. */
  private readonly stderrAtStart: string | null

  constructor(private readonly pid: number, private readonly output: InspectorOutput) {
    this.stderrAtStart = fdTarget(pid, 2)
  }

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
   * No URL at all: a process that runs (state R) would have answered SIGUSR1
   * at once, unless its stderr is closed or the test took SIGUSR1 for itself;
   * one that sleeps in a system call cannot.
   */
  async unreachable(failed: 'open' | 'enable', boundMs: number): Promise<{ reason: StopReason; observed: Observation }> {
    const step = failed === 'enable' ? 'enable' : this.urlCame ? 'connect' : 'announce'
    const view = await this.kernelView()
    // Running, yet no session or no answer (Node 24 does not even start a session at the edge of the stack): not blocked.
    const reason = view.state !== 'R' ? 'blocked-outside-js' : step === 'announce' ? 'inspector-unavailable' : 'pause-not-taken'
    return { reason, observed: { step, bound: boundMs, ...view } }
  }

  async kernelView(): Promise<KernelView> {
    const since = Date.now() - KERNEL_LOOKS * KERNEL_LOOK_MS
    const view = await kernelViewOf(this.pid, this.samples.filter((s) => s.at >= since).map((s) => s.state))
    if (this.stderrAtStart && statFields(this.pid) && fdTarget(this.pid, 2) !== this.stderrAtStart) view.stderrClosed = true
    return view
  }

  sampleKernel(on: boolean): void {
    if (this.sampler) realClearTimeout(this.sampler)
    this.sampler = null
    if (!on) return
    this.samples = []
    const look = () => {
      const state = statFields(this.pid)?.[0]
      if (!state) return
      this.samples.push({ at: Date.now(), state })
      if (this.samples.length > KERNEL_LOOKS) this.samples.shift()
      this.sampler = unrefTimer(look, KERNEL_LOOK_MS)
    }
    this.sampler = unrefTimer(look, KERNEL_LOOK_MS)
  }

  blockingChildren(runAt: number): number[] {
    return blockingAmong(childrenSince(this.pid, runAt), this.pid, childMark(this.pid, 0, 'sync'))
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

  /** A thread of this process cannot be told apart from the others in /proc: only what the inspector did is known. */
  async unreachable(failed: 'open' | 'enable', boundMs: number): Promise<{ reason: StopReason; observed: Observation }> {
    return { reason: 'blocked-outside-js', observed: { step: failed === 'open' ? 'attach' : 'enable', bound: boundMs } }
  }

  async kernelView(): Promise<KernelView> {
    return {}
  }

  sampleKernel(): void {}

  async release(): Promise<void> {}

  blockingChildren(runAt: number): number[] {
    // The main process's own children are no test's: its workers and the reaper.
    const hosts = new Set(liveWorkerPids())
    const reaper = reaperPid()
    if (reaper !== undefined) hosts.add(reaper)
    return blockingAmong(childrenSince(process.pid, runAt, hosts), process.pid, childMark(process.pid, this.threadId, 'sync'))
  }

  ownChildren(runAt: number): number[] {
    return [...markedProcesses(`${process.pid}:${this.threadId}:`), ...this.blockingChildren(runAt)]
  }
}

/**
 * Which of `parent`'s children, started since the blocked run began, the
 * thread waits on. Found by parentage, not by environment (a test may replace
 * `process.env`, or its child drop its own): the mark only chooses. The ones
 * marked as this thread's synchronous children when there are any; otherwise
 * every one not marked as another thread's child or an asynchronous one of
 * `parent`'s (a mark of another form is the test's own doing, no hint).
 */
function blockingAmong(children: readonly ChildEntry[], parent: number, ownSync: string): number[] {
  const own = children.filter((child) => child.mark === ownSync)
  if (own.length > 0) return own.map((child) => child.pid)
  return children.filter((child) => !child.mark?.startsWith(`${parent}:`)).map((child) => child.pid)
}

/**
 * A worker process's main thread (the test thread) as /proc shows it over
 * KERNEL_LOOKS looks: running (R) if it ran in any of them, else its last
 * state letter and the kernel function it sleeps in (`0` when none, or
 * hidden). Each is left out when it cannot be read. `sampled`: states taken
 * over the last KERNEL_LOOKS * KERNEL_LOOK_MS, counted as looks (one is always taken now).
 */
async function kernelViewOf(pid: number, sampled: readonly string[] = []): Promise<KernelView> {
  const looks = sampled.slice(-(KERNEL_LOOKS - 1))
  for (;;) {
    const now = statFields(pid)?.[0]
    if (!now) return {}
    looks.push(now)
    if (looks.includes('R') || looks.length >= KERNEL_LOOKS) break
    await new Promise((resolve) => unrefTimer(() => resolve(null), KERNEL_LOOK_MS))
  }
  const state = looks.includes('R') ? 'R' : looks[looks.length - 1]
  const view: KernelView = { state }
  try {
    const wchan = readFileSync(`/proc/${pid}/wchan`, 'utf8').trim()
    if (state !== 'R' && wchan && wchan !== '0') view.wchan = wchan
  } catch {
    // No /proc, or not ours to read.
  }
  return view
}

/** What a process's descriptor points to (`pipe:[1234]`, a path), or null: closed, or no /proc. */
function fdTarget(pid: number, fd: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/fd/${fd}`)
  } catch {
    return null
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
