import { AbortControllerPrototypeAbort, EventTargetPrototypeAddEventListener, EventTargetPrototypeRemoveEventListener, MapPrototypeGet, MapPrototypeSet, ReflectApply, SafeAbortController } from './intrinsics.js'

type Listener = ((event: Event) => void) | { handleEvent(event: Event): void }
type AddOptions = Parameters<AbortSignal['addEventListener']>[2]
type RemoveOptions = Parameters<AbortSignal['removeEventListener']>[2]

/**
 * The test's `context.signal`, with a gate on Vitest's own cancel listener.
 *
 * Vitest wraps each test in `withCancel`, which rejects the test the moment
 * its signal aborts: the test would "settle" before its own `finally` blocks
 * ran. During the abort stage the watchdog wants the opposite: give the test
 * `grace` ms to wind down and settle by itself. So the first abort listener
 * registered while the test function starts (that is `withCancel`'s, which
 * runs before the test body) is held back when the abort is the watchdog's,
 * and released only when the abort stage expires. Aborts from Vitest itself
 * (its own timeouts, cancelling the run) pass straight through.
 */
export class GatedSignal {
  readonly signal: AbortSignal
  private readonly own = new SafeAbortController()
  private capturing = false
  private held: (() => void) | null = null
  /** The abort came from Vitest (its own timeout, a cancelled run), not from the watchdog. */
  private fromVitest = false
  private readonly wrapped = new Map<Listener, (event: Event) => void>()

  constructor(vitestSignal: AbortSignal) {
    // One controller of the watchdog's, following Vitest's signal through a
    // listener: AbortSignal.any() did the same at several times the cost, for
    // every test, at collection.
    const signal = this.own.signal
    EventTargetPrototypeAddEventListener(vitestSignal, 'abort', () => {
      this.fromVitest = true
      AbortControllerPrototypeAbort(this.own, vitestSignal.reason)
    }, { once: true })
    const add = (type: string, listener: Listener, options?: AddOptions) => EventTargetPrototypeAddEventListener(signal, type, listener, options)
    const remove = (type: string, listener: Listener, options?: RemoveOptions) => EventTargetPrototypeRemoveEventListener(signal, type, listener, options)
    signal.addEventListener = (type: string, listener: Listener | null, options?: AddOptions) => {
      if (type !== 'abort' || !listener || !this.capturing) return add(type, listener as Listener, options)
      this.capturing = false
      const gated = (event: Event) => {
        const call = () => (typeof listener === 'function' ? ReflectApply(listener, signal, [event]) : listener.handleEvent(event))
        if (!this.fromVitest) this.held = call
        else call()
      }
      MapPrototypeSet(this.wrapped, listener, gated)
      return add(type, gated, options)
    }
    signal.removeEventListener = (type: string, listener: Listener | null, options?: RemoveOptions) =>
      remove(type, ((listener && MapPrototypeGet(this.wrapped, listener)) ?? listener) as Listener, options)
    this.signal = signal
  }

  /** Runs the test function, noting the cancel listener it registers first. */
  start<T>(fn: () => T): T {
    this.capturing = true
    try {
      return fn()
    } finally {
      this.capturing = false
    }
  }

  /** The abort stage: the test and its cooperative code see the signal abort. */
  abort(reason: unknown): void {
    AbortControllerPrototypeAbort(this.own, reason)
  }

  /** The abort stage is over: let Vitest reject the test as it normally would. */
  release(): void {
    const held = this.held
    this.held = null
    held?.()
  }
}
