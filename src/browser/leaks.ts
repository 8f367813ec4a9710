/**
 * Leaks in the page, where cheap: timeouts and intervals a test left
 * pending, with the line that created them. The page's `setTimeout` and
 * `setInterval` are wrapped once per frame, before the test file is imported
 * (the watchdog's own timers were captured earlier, in shared/clock.ts);
 * each timer remembers the test running when it was created, and an `Error`
 * whose stack is mapped to the original source by the main process only if
 * the timer leaks. Only timers created by user code count.
 */
import { ArrayPrototypeJoin, ArrayPrototypePush, ArrayPrototypeSlice, ArrayPrototypeSome, MapPrototypeDelete, MapPrototypeSet, mapEntries, ownError, ReflectApply, SetPrototypeAdd, SetPrototypeDelete, SetPrototypeGetSize, setValues, stackOf, StringPrototypeIncludes, StringPrototypeSplit } from '../shared/intrinsics.js'

type AnyFn = (...args: unknown[]) => unknown

export type PageLeakType = 'Timeout' | 'Interval'

export interface PageTimer {
  type: PageLeakType
  owner: string
  /** The creation stack, in served coordinates. */
  stack: string
}

export const TIMER_HINTS: Record<PageLeakType, string> = {
  Timeout: 'a setTimeout that had not fired when the test ended: clearTimeout() it, or await it',
  Interval: 'a setInterval still running: clearInterval() it in the test or in afterEach',
}

/** What becomes of a leaked timer in the page. */
export const TIMER_CLEANUP = 'left to the page: it is dropped with the test file\'s frame'

export class PageTimers {
  private readonly live = new Map<unknown, PageTimer>()
  private readonly running = new Set<string>()
  private installed = false

  /** `ownUrl`: the watchdog's own module, whose frames are never the user's. */
  constructor(private readonly ownUrl: string) {}

  /** Once per frame: each run request reads the settings again (setup.ts). */
  install(): void {
    if (this.installed) return
    this.installed = true
    const scope = globalThis as unknown as Record<string, AnyFn>
    const setTimeoutOriginal = scope.setTimeout!
    const setIntervalOriginal = scope.setInterval!
    const clearTimeoutOriginal = scope.clearTimeout!
    const clearIntervalOriginal = scope.clearInterval!
    const timers = this
    scope.setTimeout = function (this: unknown, handler: unknown, ...rest: unknown[]) {
      if (typeof handler !== 'function') return ReflectApply(setTimeoutOriginal, this, [handler, ...rest])
      const entry = timers.entry('Timeout')
      const id = ReflectApply(setTimeoutOriginal, this, [function (this: unknown, ...args: unknown[]) {
        MapPrototypeDelete(timers.live, id)
        return ReflectApply(handler as AnyFn, this, args)
      }, ...rest])
      if (entry) MapPrototypeSet(timers.live, id, entry)
      return id
    }
    scope.setInterval = function (this: unknown, handler: unknown, ...rest: unknown[]) {
      const id = ReflectApply(setIntervalOriginal, this, [handler, ...rest])
      const entry = typeof handler === 'function' ? timers.entry('Interval') : null
      if (entry) MapPrototypeSet(timers.live, id, entry)
      return id
    }
    // Browsers share one id space between the two: either clears either.
    scope.clearTimeout = function (this: unknown, id: unknown) {
      MapPrototypeDelete(timers.live, id)
      return ReflectApply(clearTimeoutOriginal, this, [id])
    }
    scope.clearInterval = function (this: unknown, id: unknown) {
      MapPrototypeDelete(timers.live, id)
      return ReflectApply(clearIntervalOriginal, this, [id])
    }
  }

  testStarted(id: string): void {
    SetPrototypeAdd(this.running, id)
  }

  testEnded(id: string): void {
    SetPrototypeDelete(this.running, id)
  }

  /** The timers test `id` created that are still pending; each is reported once. */
  leaksOf(id: string): PageTimer[] {
    const found: PageTimer[] = []
    const entries = mapEntries(this.live)
    for (let i = 0; i < entries.length; i++) {
      const [key, entry] = entries[i]!
      if (entry.owner !== id) continue
      ArrayPrototypePush(found, entry)
      MapPrototypeDelete(this.live, key)
    }
    return found
  }

  /** Only while exactly one test runs: with several (test.concurrent), a timer cannot be told apart. */
  private entry(type: PageLeakType): PageTimer | null {
    if (SetPrototypeGetSize(this.running) !== 1) return null
    // Under the page's stack hook and limit of load time, not a test's (Chromium has Error.prepareStackTrace too).
    const stack = stackOf(ownError(''))
    if (!this.createdByUser(stack)) return null
    return { type, owner: setValues(this.running)[0]!, stack: ArrayPrototypeJoin(ArrayPrototypeSlice(StringPrototypeSplit(stack, '\n'), 2), '\n') }
  }

  /** A frame of the user's own code: served by the page's origin, outside node_modules, Vite's and Vitest's own modules and the watchdog's. */
  private createdByUser(stack: string): boolean {
    const origin = (globalThis as unknown as { location: { origin: string } }).location.origin
    const has = (line: string, part: string) => StringPrototypeIncludes(line, part)
    return ArrayPrototypeSome(ArrayPrototypeSlice(StringPrototypeSplit(stack, '\n'), 2), (line) => has(line, origin) && !has(line, '/node_modules/') && !has(line, '/@vite') && !has(line, '/@vitest') && !has(line, '__vitest') && !has(line, this.ownUrl))
  }
}
