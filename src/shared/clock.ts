/**
 * Real timers, captured when the watchdog loads. Tests may install fake timers
 * (`vi.useFakeTimers()` replaces setTimeout, setImmediate, performance and Date);
 * the watchdog must keep counting real time regardless.
 */
const realPerformance = globalThis.performance
const realNowFn = realPerformance.now.bind(realPerformance)
const timeOrigin = realPerformance.timeOrigin

export const realSetTimeout = globalThis.setTimeout
export const realClearTimeout = globalThis.clearTimeout
export const realSetImmediate = globalThis.setImmediate
export const realClearImmediate = globalThis.clearImmediate

/** Milliseconds since the epoch with sub-ms precision, comparable between threads of one process. */
export function absoluteNow(): number {
  return timeOrigin + realNowFn()
}

/** A timer that never keeps the process alive: the watchdog must never be the reason a run hangs. */
export function unrefTimer(fn: () => void, ms: number): ReturnType<typeof setTimeout> {
  const t = realSetTimeout(fn, ms)
  t.unref?.()
  return t
}
