import { Session } from 'node:inspector'
import { realClearTimeout, unrefTimer } from './clock.js'

export class InspectorTimeoutError extends Error {
  readonly code = 'ERR_WATCHDOG_INSPECTOR_TIMEOUT'
  constructor(method: string, ms: number) {
    super(`inspector did not answer ${method} within ${ms}ms`)
    this.name = 'InspectorTimeoutError'
  }
}

/**
 * A CDP session on the test thread, seen from the helper thread. Every call is
 * bounded: `Debugger.enable` and `Debugger.pause` never answer while the test
 * thread is blocked outside JavaScript (a system call), and the helper must
 * then escalate instead of waiting forever.
 */
export class InspectorClient {
  private readonly session = new Session()

  constructor() {
    this.session.connectToMainThread()
  }

  post<T = unknown>(method: string, params: object | undefined, boundMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = unrefTimer(() => reject(new InspectorTimeoutError(method, boundMs)), boundMs)
      this.session.post(method, params ?? {}, (err, result) => {
        realClearTimeout(timer)
        if (err) reject(err)
        else resolve(result as T)
      })
    })
  }

  on<T>(event: string, listener: (params: T) => void): void {
    this.session.on(event, (message: { params: T }) => listener(message.params))
  }

  /** Resolves with the event's params, or null when it did not come within `boundMs`. */
  once<T>(event: string, boundMs: number): { promise: Promise<T | null>; cancel(): void } {
    let cancel = () => {}
    const promise = new Promise<T | null>((resolve) => {
      const listener = (message: { params: T }) => {
        cancel()
        resolve(message.params)
      }
      const timer = unrefTimer(() => {
        cancel()
        resolve(null)
      }, boundMs)
      cancel = () => {
        realClearTimeout(timer)
        this.session.off(event, listener)
      }
      this.session.on(event, listener)
    })
    return { promise, cancel }
  }
}
