import { Session } from 'node:inspector'
import { realClearTimeout, unrefTimer } from '../../shared/clock.js'

export class InspectorTimeoutError extends Error {
  readonly code = 'ERR_WATCHDOG_INSPECTOR_TIMEOUT'
  constructor(method: string, ms: number) {
    super(`inspector did not answer ${method} within ${ms}ms`)
    this.name = 'InspectorTimeoutError'
  }
}

type Listener = (params: any) => void
type Done = (error: Error | null, result?: unknown) => void

/** Detaching answers at once from a thread that is running; a second is plenty. */
const CLOSE_BOUND_MS = 1_000

/**
 * A CDP session on a worker's test thread, seen from the main process. Every
 * call is bounded: `Debugger.enable` and `Debugger.pause` never answer while
 * the thread is blocked outside JavaScript (a system call), and the ladder
 * must then escalate instead of waiting forever.
 *
 * Two transports: a worker process is reached over a WebSocket to the
 * inspector the main process opened in it (WebSocketClient); a worker thread
 * of this process through the main thread's own `NodeWorker` domain
 * (WorkerThreadClient), with no port at all.
 */
export abstract class CdpClient {
  private nextId = 1
  private readonly pending = new Map<number, Done>()
  private readonly listeners = new Map<string, Set<Listener>>()

  protected abstract transmit(message: string): void
  /** Ends the session. Never throws, never waits past its own bound. */
  abstract close(): Promise<void>
  /** Whether the other side ends the session within `boundMs`. */
  closedWithin(_boundMs: number): Promise<boolean> {
    return Promise.resolve(false)
  }

  /** A raw CDP message from the target: answer or event. */
  protected receive(raw: string): void {
    let message: { id?: number; result?: unknown; error?: { message: string }; method?: string; params?: unknown }
    try {
      message = JSON.parse(raw)
    } catch {
      return
    }
    if (message.id !== undefined) {
      const done = this.pending.get(message.id)
      this.pending.delete(message.id)
      done?.(message.error ? new Error(message.error.message) : null, message.result)
      return
    }
    if (message.method) for (const listener of this.listeners.get(message.method) ?? []) listener(message.params)
  }

  /** The transport is gone: every call in flight fails now rather than at its bound. */
  protected failAll(error: Error): void {
    for (const done of this.pending.values()) done(error)
    this.pending.clear()
  }

  post<T = unknown>(method: string, params: object | undefined, boundMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++
      const timer = unrefTimer(() => {
        this.pending.delete(id)
        reject(new InspectorTimeoutError(method, boundMs))
      }, boundMs)
      this.pending.set(id, (error, result) => {
        realClearTimeout(timer)
        if (error) reject(error)
        else resolve(result as T)
      })
      try {
        this.transmit(JSON.stringify({ id, method, params: params ?? {} }))
      } catch (error) {
        this.pending.delete(id)
        realClearTimeout(timer)
        reject(error)
      }
    })
  }

  /** Sends without waiting for the answer (one that will never come, such as closing the inspector under this session). */
  fire(method: string, params?: object): void {
    try {
      this.transmit(JSON.stringify({ id: this.nextId++, method, params: params ?? {} }))
    } catch {
      // The session is gone already.
    }
  }

  on(event: string, listener: Listener): void {
    const set = this.listeners.get(event) ?? new Set()
    set.add(listener)
    this.listeners.set(event, set)
  }

  off(event: string, listener: Listener): void {
    this.listeners.get(event)?.delete(listener)
  }

  /** Resolves with the event's params, or null when it did not come within `boundMs`. */
  once<T>(event: string, boundMs: number): { promise: Promise<T | null>; cancel(): void } {
    let cancel = () => {}
    const promise = new Promise<T | null>((resolve) => {
      const listener = (params: T) => {
        cancel()
        resolve(params)
      }
      const timer = unrefTimer(() => {
        cancel()
        resolve(null)
      }, boundMs)
      cancel = () => {
        realClearTimeout(timer)
        this.off(event, listener)
      }
      this.on(event, listener)
    })
    return { promise, cancel }
  }
}

/**
 * A worker process, over the WebSocket its inspector listens on (127.0.0.1,
 * a random port, an unguessable path, open only during a stop). `ws` is
 * loaded on the first stop only: a green run never loads it.
 */
export class WebSocketClient extends CdpClient {
  private constructor(private readonly socket: import('ws').WebSocket) {
    super()
    socket.on('message', (data) => this.receive(String(data)))
    socket.on('close', () => this.failAll(new Error('the inspector connection closed')))
    socket.on('error', () => {})
  }

  static async connect(url: string, boundMs: number): Promise<WebSocketClient> {
    const { WebSocket } = await import('ws')
    const socket = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: boundMs })
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve())
      socket.once('error', reject)
    })
    return new WebSocketClient(socket)
  }

  protected transmit(message: string): void {
    this.socket.send(message)
  }

  override closedWithin(boundMs: number): Promise<boolean> {
    const socket = this.socket
    if (socket.readyState === socket.CLOSED) return Promise.resolve(true)
    return new Promise((resolve) => {
      const timer = unrefTimer(() => resolve(false), boundMs)
      socket.once('close', () => {
        realClearTimeout(timer)
        resolve(true)
      })
    })
  }

  async close(): Promise<void> {
    const socket = this.socket
    if (socket.readyState === socket.CLOSED) return
    await new Promise<void>((resolve) => {
      const timer = unrefTimer(() => {
        socket.terminate()
        resolve()
      }, CLOSE_BOUND_MS)
      socket.once('close', () => {
        realClearTimeout(timer)
        resolve()
      })
      socket.close()
    })
  }
}

/**
 * A worker thread of this process: the main thread's inspector lists workers
 * (NodeWorker.enable); the one whose title carries `[worker N]`, N being the
 * test thread's threadId, is ours. CDP messages to it travel as strings
 * through NodeWorker.sendMessageToWorker and receivedMessageFromWorker.
 */
export class WorkerThreadClient extends CdpClient {
  private readonly session = new Session()
  private sessionId: string | null = null

  private constructor() {
    super()
    this.session.connect()
  }

  static async attach(threadId: number, boundMs: number): Promise<WorkerThreadClient> {
    const client = new WorkerThreadClient()
    try {
      await client.attachTo(threadId, boundMs)
    } catch (error) {
      await client.close()
      throw error
    }
    return client
  }

  private mainPost(method: string, params: object, boundMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = unrefTimer(() => reject(new InspectorTimeoutError(method, boundMs)), boundMs)
      this.session.post(method, params, (error, result) => {
        realClearTimeout(timer)
        if (error) reject(error)
        else resolve(result)
      })
    })
  }

  private async attachTo(threadId: number, boundMs: number): Promise<void> {
    const title = `[worker ${threadId}]`
    const attached = new Promise<string>((resolve) => {
      this.session.on('NodeWorker.attachedToWorker', (message: { params: { sessionId: string; workerInfo: { title: string } } }) => {
        if (message.params.workerInfo.title.includes(title)) resolve(message.params.sessionId)
      })
    })
    this.session.on('NodeWorker.receivedMessageFromWorker', (message: { params: { sessionId: string; message: string } }) => {
      if (message.params.sessionId === this.sessionId) this.receive(message.params.message)
    })
    await this.mainPost('NodeWorker.enable', { waitForDebuggerOnStart: false }, boundMs)
    const bound = new Promise<never>((_, reject) => unrefTimer(() => reject(new InspectorTimeoutError(`NodeWorker.attachedToWorker for ${title}`, boundMs)), boundMs))
    this.sessionId = await Promise.race([attached, bound])
  }

  protected transmit(message: string): void {
    if (!this.sessionId) throw new Error('not attached')
    this.session.post('NodeWorker.sendMessageToWorker', { sessionId: this.sessionId, message }, () => {})
  }

  /**
   * Detaches from the test thread and disconnects: a session left attached
   * through NodeWorker keeps the test thread, and with it the whole Vitest
   * process, from exiting at the end of the run.
   */
  async close(): Promise<void> {
    if (this.sessionId) await this.mainPost('NodeWorker.detach', { sessionId: this.sessionId }, CLOSE_BOUND_MS).catch(() => {})
    await this.mainPost('NodeWorker.disable', {}, CLOSE_BOUND_MS).catch(() => {})
    this.failAll(new Error('the inspector session closed'))
    this.session.disconnect()
  }
}
