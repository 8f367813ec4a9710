import { Session } from 'node:inspector'
import { realClearTimeout, unrefTimer } from './clock.js'

export class InspectorTimeoutError extends Error {
  readonly code = 'ERR_WATCHDOG_INSPECTOR_TIMEOUT'
  constructor(method: string, ms: number) {
    super(`inspector did not answer ${method} within ${ms}ms`)
    this.name = 'InspectorTimeoutError'
  }
}

type Listener = (params: any) => void

/** Detaching answers at once from a thread that is running; a second is plenty. */
const CLOSE_BOUND_MS = 1_000

/**
 * A CDP session on the test thread, seen from the helper thread. Every call is
 * bounded: `Debugger.enable` and `Debugger.pause` never answer while the test
 * thread is blocked outside JavaScript (a system call), and the helper must
 * then escalate instead of waiting forever.
 *
 * Two transports reach the test thread: under the forks pool it is the
 * process's main thread (`connectToMainThread()`); under the threads pool it is
 * a worker thread, reached through the main thread's `NodeWorker` domain.
 */
export abstract class InspectorClient {
  protected abstract send(method: string, params: object, done: (error: Error | null, result?: unknown) => void): void
  abstract on(event: string, listener: Listener): void
  abstract off(event: string, listener: Listener): void
  /** Ends the session; the helper opens a new one for the next stop. */
  abstract close(): Promise<void>

  post<T = unknown>(method: string, params: object | undefined, boundMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = unrefTimer(() => reject(new InspectorTimeoutError(method, boundMs)), boundMs)
      this.send(method, params ?? {}, (error, result) => {
        realClearTimeout(timer)
        if (error) reject(error)
        else resolve(result as T)
      })
    })
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

/** The forks pool: the test thread is the main thread of this process. */
export class MainThreadClient extends InspectorClient {
  private readonly session = new Session()
  private readonly wrapped = new Map<Listener, (message: { params: unknown }) => void>()

  constructor() {
    super()
    this.session.connectToMainThread()
  }

  protected send(method: string, params: object, done: (error: Error | null, result?: unknown) => void): void {
    this.session.post(method, params, (error, result) => done(error, result))
  }

  on(event: string, listener: Listener): void {
    const wrapper = (message: { params: unknown }) => listener(message.params)
    this.wrapped.set(listener, wrapper)
    this.session.on(event, wrapper)
  }

  off(event: string, listener: Listener): void {
    const wrapper = this.wrapped.get(listener)
    if (wrapper) this.session.off(event, wrapper)
    this.wrapped.delete(listener)
  }

  async close(): Promise<void> {
    this.session.disconnect()
  }
}

/**
 * The threads pool: the test thread is a worker thread. The main thread's
 * inspector lists workers (NodeWorker.enable); the one whose title carries
 * `[worker N]`, N being the test thread's threadId, is ours. CDP messages to it
 * travel as strings through NodeWorker.sendMessageToWorker and
 * NodeWorker.receivedMessageFromWorker.
 */
export class WorkerThreadClient extends InspectorClient {
  private readonly main = new MainThreadClient()
  private sessionId: string | null = null
  private nextId = 1
  private readonly pending = new Map<number, (error: Error | null, result?: unknown) => void>()
  private readonly listeners = new Map<string, Set<Listener>>()

  static async attach(threadId: number, boundMs: number): Promise<WorkerThreadClient> {
    const client = new WorkerThreadClient()
    await client.connect(threadId, boundMs)
    return client
  }

  private async connect(threadId: number, boundMs: number): Promise<void> {
    const title = `[worker ${threadId}]`
    const attached = new Promise<string>((resolve) => {
      this.main.on('NodeWorker.attachedToWorker', (params: { sessionId: string; workerInfo: { title: string } }) => {
        if (params.workerInfo.title.includes(title)) resolve(params.sessionId)
      })
    })
    this.main.on('NodeWorker.receivedMessageFromWorker', (params: { sessionId: string; message: string }) => {
      if (params.sessionId === this.sessionId) this.receive(params.message)
    })
    await this.main.post('NodeWorker.enable', { waitForDebuggerOnStart: false }, boundMs)
    const bound = new Promise<never>((_, reject) => unrefTimer(() => reject(new InspectorTimeoutError(`NodeWorker.attachedToWorker for ${title}`, boundMs)), boundMs))
    this.sessionId = await Promise.race([attached, bound])
  }

  private receive(raw: string): void {
    const message = JSON.parse(raw) as { id?: number; result?: unknown; error?: { message: string }; method?: string; params?: unknown }
    if (message.id !== undefined) {
      const done = this.pending.get(message.id)
      this.pending.delete(message.id)
      done?.(message.error ? new Error(message.error.message) : null, message.result)
      return
    }
    if (message.method) for (const listener of this.listeners.get(message.method) ?? []) listener(message.params)
  }

  protected send(method: string, params: object, done: (error: Error | null, result?: unknown) => void): void {
    const id = this.nextId++
    this.pending.set(id, done)
    const message = JSON.stringify({ id, method, params })
    this.main.post('NodeWorker.sendMessageToWorker', { sessionId: this.sessionId, message }, 60_000).catch((error: Error) => {
      this.pending.delete(id)
      done(error)
    })
  }

  /**
   * Detaches from the test thread and disconnects from the main thread: a
   * session left attached through NodeWorker keeps the test thread, and with it
   * the whole Vitest process, from exiting at the end of the run.
   */
  async close(): Promise<void> {
    if (this.sessionId) await this.main.post('NodeWorker.detach', { sessionId: this.sessionId }, CLOSE_BOUND_MS).catch(() => {})
    await this.main.post('NodeWorker.disable', {}, CLOSE_BOUND_MS).catch(() => {})
    await this.main.close()
  }

  on(event: string, listener: Listener): void {
    const set = this.listeners.get(event) ?? new Set()
    set.add(listener)
    this.listeners.set(event, set)
  }

  off(event: string, listener: Listener): void {
    this.listeners.get(event)?.delete(listener)
  }
}
