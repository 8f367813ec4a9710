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
export const realSetInterval = globalThis.setInterval
export const realClearInterval = globalThis.clearInterval

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

/**
 * The longest delay a timer takes, in Node and in browsers: a longer one
 * (Infinity included) fires after 1 ms, which would stop every run at once.
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1

/** Whether a stage `stageMs` after a run's start can be armed at all (false for NaN too). */
export function fitsTimer(stageMs: number): boolean {
  return stageMs <= MAX_TIMER_DELAY_MS
}

/**
 * The timer of a ladder's stage, due `stageMs` after its run's clock started,
 * `elapsedMs` ago. A stage past the longest delay a timer takes never comes:
 * no timer (undefined), as for a budget of Infinity.
 */
export function stageTimer(fn: () => void, stageMs: number, elapsedMs = 0): ReturnType<typeof setTimeout> | undefined {
  if (!fitsTimer(stageMs)) return undefined
  return unrefTimer(fn, Math.max(0, stageMs - elapsedMs))
}
