/**
 * Vitest's own timer for a test or hook whose timeout is the watchdog's
 * budget: the same in a Node worker (worker/runner.ts) and in a page
 * (browser/setup.ts). A timeout passed to one test or hook then gives one
 * stop at that budget, not the ladder's stop plus Vitest's late rejection.
 */
import { ReflectApply } from './intrinsics.js'

const ObjectGetOwnPropertySymbols = Object.getOwnPropertySymbols
const ObjectFreeze = Object.freeze

/**
 * Vitest's own timers (@vitest/utils setSafeTimers), kept on globalThis under
 * a private symbol: `withTimeout` takes its `setTimeout` from there when a
 * test or hook is defined. Set by Vitest after the runner loads: looked up
 * before the first file is imported; undefined if a Vitest keeps them elsewhere.
 */
function vitestTimers(): { setTimeout: unknown } | undefined {
  const symbols = ObjectGetOwnPropertySymbols(globalThis)
  for (let i = 0; i < symbols.length; i++) {
    if (symbols[i]!.description !== 'vitest:SAFE_TIMERS') continue
    const timers = (globalThis as unknown as Record<symbol, { setTimeout?: unknown } | undefined>)[symbols[i]!]
    if (timers && typeof timers.setTimeout === 'function') return timers as { setTimeout: unknown }
  }
  return undefined
}

/** The name Vitest gives a test or hook it wrapped in its own timeout (a timeout of 0 or Infinity leaves it unwrapped). */
const TIMED_FN_NAME = 'runWithTimeout'

/** Where Vitest keeps the timeout given to beforeAll/beforeEach (for their cleanup callbacks). */
const HOOK_TIMEOUT_KEY = Symbol.for('VITEST_CLEANUP_TIMEOUT')

/** A timer that never fires, for Vitest's own clearTimeout and unref to handle as theirs. */
const NO_TIMER = ObjectFreeze({ unref: () => NO_TIMER, ref: () => NO_TIMER, hasRef: () => false })

/** Vitest's timers were found and their setTimeout wrapped. */
let installed = false
/** Set just before a timed test or hook is called: its wrapper's first timer is not armed. */
let skipNextTimer = false

/**
 * Vitest's setTimeout, as every test and hook defined from now on captures it:
 * the same timer, except the one a timed test or hook asks for when the
 * watchdog calls it (see callWithoutVitestTimer). Before the first file import.
 */
export function takeOverVitestTimers(): void {
  if (installed) return
  const timers = vitestTimers()
  if (!timers) return
  installed = true
  const own = timers.setTimeout as (...args: unknown[]) => unknown
  timers.setTimeout = function (this: unknown, ...args: unknown[]) {
    if (!skipNextTimer) return ReflectApply(own, this, args)
    skipNextTimer = false
    return NO_TIMER
  }
}

/**
 * The timeout a hook was given where it was defined (`beforeAll(fn, 2000)`),
 * or undefined: Vitest keeps it on beforeAll and beforeEach hooks only.
 */
export function ownTimeoutOf(hook: unknown): number | undefined {
  if (typeof hook !== 'function' || hook.name !== TIMED_FN_NAME) return undefined
  const ms = (hook as unknown as Record<symbol, unknown>)[HOOK_TIMEOUT_KEY]
  return typeof ms === 'number' && ms > 0 ? ms : undefined
}

/**
 * Calls a test or hook Vitest wrapped in its own timeout with that timer never
 * armed, when its timeout is the watchdog's budget: the ladder, not a second
 * rejection after the stop, is what happens when it runs out. The wrapper
 * asks for its timer before the function itself runs.
 */
export function callWithoutVitestTimer<T>(fn: unknown, call: () => T): T {
  if (!installed || typeof fn !== 'function' || fn.name !== TIMED_FN_NAME) return call()
  skipNextTimer = true
  try {
    return call()
  } finally {
    skipNextTimer = false
  }
}
