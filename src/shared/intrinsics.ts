/**
 * JavaScript's built-ins as they were when the watchdog loaded, the way
 * Node's own library uses its primordials. A test may replace any global
 * (`vi.spyOn(JSON, 'stringify')`, `Array.prototype.push`, `Error.prepareStackTrace`)
 * and leave it so: the watchdog's code in a worker or a page (guard, journal,
 * endpoint, leak bookkeeping) calls these instead, never the live globals.
 * No node module here: the page uses it too.
 *
 * A method is uncurried (`ArrayPrototypePush(list, item)`): the receiver is
 * the first argument, so a replaced prototype method is never looked up.
 */
type AnyFn = (...args: any[]) => any

const { apply: ReflectApplyOwn, getOwnPropertyDescriptor: ReflectGetOwnPropertyDescriptorOwn } = Reflect
const FunctionPrototypeCall = Function.prototype.call
const FunctionPrototypeBind = Function.prototype.bind

/**
 * `uncurryThis(Array.prototype.push)` is `(list, ...items) => list.push(...items)`
 * with the push of load time: `call.bind(fn)`, bound with the captured bind.
 */
export function uncurryThis<T, A extends unknown[], R>(fn: (this: T, ...args: A) => R): (self: T, ...args: A) => R {
  return ReflectApplyOwn(FunctionPrototypeBind, FunctionPrototypeCall, [fn]) as (self: T, ...args: A) => R
}

export const ReflectApply = ReflectApplyOwn

// JSON: the journal, the resume plan, what the page sends the main process.
export const JSONStringify = JSON.stringify
export const JSONParse = JSON.parse
/** The JSON object of load time, for library code the watchdog calls that reads the global (see withLoadJSON). */
const SafeJSON = JSON

// Object
export const ObjectAssign = Object.assign
export const ObjectDefineProperty = Object.defineProperty
export const ObjectEntries = Object.entries
export const ObjectIs = Object.is
export const ObjectKeys = Object.keys

// Array
export const ArrayIsArray = Array.isArray
export const ArrayPrototypeFilter: <T>(list: readonly T[], predicate: (item: T, index: number) => unknown) => T[] = uncurryThis(Array.prototype.filter as AnyFn)
export const ArrayPrototypeFind: <T>(list: readonly T[], predicate: (item: T, index: number) => unknown) => T | undefined = uncurryThis(Array.prototype.find as AnyFn)
export const ArrayPrototypeFindIndex: <T>(list: readonly T[], predicate: (item: T, index: number) => unknown) => number = uncurryThis(Array.prototype.findIndex as AnyFn)
export const ArrayPrototypeIncludes: <T>(list: readonly T[], item: T) => boolean = uncurryThis(Array.prototype.includes as AnyFn)
export const ArrayPrototypeJoin: (list: readonly unknown[], separator?: string) => string = uncurryThis(Array.prototype.join as AnyFn)
export const ArrayPrototypeMap: <T, U>(list: readonly T[], fn: (item: T, index: number) => U) => U[] = uncurryThis(Array.prototype.map as AnyFn)
export const ArrayPrototypePush: <T>(list: T[], ...items: T[]) => number = uncurryThis(Array.prototype.push as AnyFn)
export const ArrayPrototypeShift: <T>(list: T[]) => T | undefined = uncurryThis(Array.prototype.shift as AnyFn)
export const ArrayPrototypeSlice: <T>(list: readonly T[], start?: number, end?: number) => T[] = uncurryThis(Array.prototype.slice as AnyFn)
export const ArrayPrototypeSome: <T>(list: readonly T[], predicate: (item: T, index: number) => unknown) => boolean = uncurryThis(Array.prototype.some as AnyFn)
export const ArrayPrototypeSplice: <T>(list: T[], start: number, deleteCount?: number, ...items: T[]) => T[] = uncurryThis(Array.prototype.splice as AnyFn)

// Map, Set, WeakMap: the guard's runs, the leak registry, the page's timers.
export const MapPrototypeGet: <K, V>(map: Map<K, V>, key: K) => V | undefined = uncurryThis(Map.prototype.get as AnyFn)
export const MapPrototypeSet: <K, V>(map: Map<K, V>, key: K, value: V) => Map<K, V> = uncurryThis(Map.prototype.set as AnyFn)
export const MapPrototypeHas: <K>(map: Map<K, unknown>, key: K) => boolean = uncurryThis(Map.prototype.has as AnyFn)
export const MapPrototypeDelete: <K>(map: Map<K, unknown>, key: K) => boolean = uncurryThis(Map.prototype.delete as AnyFn)
export const MapPrototypeGetSize: (map: Map<unknown, unknown>) => number = uncurryThis(ReflectGetOwnPropertyDescriptorOwn(Map.prototype, 'size')!.get as AnyFn)
export const SetPrototypeAdd: <T>(set: Set<T>, value: T) => Set<T> = uncurryThis(Set.prototype.add as AnyFn)
export const SetPrototypeHas: <T>(set: Set<T>, value: T) => boolean = uncurryThis(Set.prototype.has as AnyFn)
export const SetPrototypeDelete: <T>(set: Set<T>, value: T) => boolean = uncurryThis(Set.prototype.delete as AnyFn)
export const SetPrototypeGetSize: (set: Set<unknown>) => number = uncurryThis(ReflectGetOwnPropertyDescriptorOwn(Set.prototype, 'size')!.get as AnyFn)
export const WeakMapPrototypeGet: <K extends object, V>(map: WeakMap<K, V>, key: K) => V | undefined = uncurryThis(WeakMap.prototype.get as AnyFn)
export const WeakMapPrototypeSet: <K extends object, V>(map: WeakMap<K, V>, key: K, value: V) => WeakMap<K, V> = uncurryThis(WeakMap.prototype.set as AnyFn)

/**
 * The values of a Map or Set as an array, without its iterator protocol (a
 * test may replace `Map.prototype.values` or `[Symbol.iterator]`): forEach of
 * load time.
 */
const MapPrototypeForEach: (map: Map<unknown, unknown>, fn: (value: unknown, key: unknown) => void) => void = uncurryThis(Map.prototype.forEach as AnyFn)
const SetPrototypeForEach: (set: Set<unknown>, fn: (value: unknown) => void) => void = uncurryThis(Set.prototype.forEach as AnyFn)
export function mapValues<V>(map: Map<unknown, V>): V[] {
  const values: V[] = []
  MapPrototypeForEach(map, (value) => ArrayPrototypePush(values, value as V))
  return values
}
export function mapEntries<K, V>(map: Map<K, V>): Array<[K, V]> {
  const entries: Array<[K, V]> = []
  MapPrototypeForEach(map as Map<unknown, unknown>, (value, key) => ArrayPrototypePush(entries, [key as K, value as V]))
  return entries
}
export function setValues<T>(set: Set<T>): T[] {
  const values: T[] = []
  SetPrototypeForEach(set as Set<unknown>, (value) => ArrayPrototypePush(values, value as T))
  return values
}

// Promise: `await` on a native promise never calls a replaced `then`, but `.then(...)` does.
export const SafePromise = Promise
export const PromisePrototypeThen: <T, R1 = T, R2 = never>(promise: Promise<T>, onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null, onRejected?: ((reason: any) => R2 | PromiseLike<R2>) | null) => Promise<R1 | R2> = uncurryThis(Promise.prototype.then as AnyFn)
export const PromiseResolve: <T>(value: T) => Promise<Awaited<T>> = FunctionPrototypeBind.call(Promise.resolve, Promise) as <T>(value: T) => Promise<Awaited<T>>
export const PromiseReject: (reason: unknown) => Promise<never> = FunctionPrototypeBind.call(Promise.reject, Promise) as (reason: unknown) => Promise<never>
export const PromiseRace: <T>(values: Iterable<T | PromiseLike<T>>) => Promise<Awaited<T>> = FunctionPrototypeBind.call(Promise.race, Promise) as <T>(values: Iterable<T | PromiseLike<T>>) => Promise<Awaited<T>>

// AbortSignal plumbing (shared/cancel-gate.ts): a test's own signal goes through these.
export const SafeAbortController = AbortController
export const AbortControllerPrototypeAbort: (controller: AbortController, reason?: unknown) => void = uncurryThis(AbortController.prototype.abort as AnyFn)
export const EventTargetPrototypeAddEventListener: (target: EventTarget, type: string, listener: unknown, options?: unknown) => void = uncurryThis(EventTarget.prototype.addEventListener as AnyFn)
export const EventTargetPrototypeRemoveEventListener: (target: EventTarget, type: string, listener: unknown, options?: unknown) => void = uncurryThis(EventTarget.prototype.removeEventListener as AnyFn)

// String, RegExp
export const StringPrototypeIncludes: (text: string, search: string) => boolean = uncurryThis(String.prototype.includes as AnyFn)
export const StringPrototypeReplace: (text: string, pattern: string | RegExp, replacement: string) => string = uncurryThis(String.prototype.replace as AnyFn)
export const StringPrototypeSlice: (text: string, start?: number, end?: number) => string = uncurryThis(String.prototype.slice as AnyFn)
export const StringPrototypeSplit: (text: string, separator: string) => string[] = uncurryThis(String.prototype.split as AnyFn)
export const StringPrototypeStartsWith: (text: string, search: string) => boolean = uncurryThis(String.prototype.startsWith as AnyFn)
export const StringPrototypeTrim: (text: string) => string = uncurryThis(String.prototype.trim as AnyFn)
export const RegExpPrototypeExec: (pattern: RegExp, text: string) => RegExpExecArray | null = uncurryThis(RegExp.prototype.exec as AnyFn)
export const RegExpPrototypeTest: (pattern: RegExp, text: string) => boolean = uncurryThis(RegExp.prototype.test as AnyFn)
export const decodeURIComponentOwn = decodeURIComponent

// Number, Math, Date
export const SafeNumber = Number
export const NumberIsFinite = Number.isFinite
export const MathMax = Math.max
export const MathMin = Math.min
export const MathRound = Math.round
/** Epoch ms of load time's Date.now: fake timers replace `Date`, and journal times must be real. */
export const DateNow = Date.now

// Errors
const SafeError = Error
const ErrorCaptureStackTrace = (Error as { captureStackTrace?: (target: object, below?: AnyFn) => void }).captureStackTrace
/** The hook and limit in place when the watchdog loaded (Node's, or none). */
const loadPrepareStackTrace = (Error as { prepareStackTrace?: unknown }).prepareStackTrace
/** Whether a prepareStackTrace hook was installed when the watchdog loaded (Vitest's module runner installs one; the vm pools do not). */
export const hasLoadPrepareStackTrace = typeof loadPrepareStackTrace === 'function'
const loadStackTraceLimit = (Error as { stackTraceLimit?: number }).stackTraceLimit
/**
 * The watchdog's own stacks keep the limit of load time: a test's 0 must not
 * blank them, and more frames would reach the user's code from inside
 * libraries (fetch's sockets) and call those the user's.
 */
const OWN_STACK_TRACE_LIMIT = typeof loadStackTraceLimit === 'number' && loadStackTraceLimit > 0 ? loadStackTraceLimit : 10

/**
 * Runs `fn` with the stack hook and limit of load time, restoring the
 * test's afterwards: a test's `Error.prepareStackTrace` (or a limit of 0)
 * must not shape, or blank, a stack the watchdog reads.
 */
function withOwnStackTraces<T>(fn: () => T): T {
  return withValues([[SafeError, 'prepareStackTrace', loadPrepareStackTrace], [SafeError, 'stackTraceLimit', OWN_STACK_TRACE_LIMIT]], fn)
}

/** Runs `fn` with each `[object, key, value]` set, and what was there before put back afterwards, in reverse order. */
function withValues<T>(values: ReadonlyArray<readonly [object, string, unknown]>, fn: () => T): T {
  const before: unknown[] = []
  // Indexed, not destructured: a test may replace Array.prototype[Symbol.iterator].
  for (let i = 0; i < values.length; i++) {
    const object = values[i]![0] as Record<string, unknown>
    before[i] = object[values[i]![1]]
    object[values[i]![1]] = values[i]![2]
  }
  try {
    return fn()
  } finally {
    for (let i = values.length - 1; i >= 0; i--) (values[i]![0] as Record<string, unknown>)[values[i]![1]] = before[i]
  }
}

/**
 * An error whose stack the watchdog reads later (where a leaked resource or
 * a page's timer was created): its frames, from the caller of ownError on,
 * are taken now under the watchdog's limit, and formatted only when read,
 * through stackOf. Cheap: no formatting here.
 */
export function ownError(message: string, frames = OWN_STACK_TRACE_LIMIT): Error {
  const errorCtor = SafeError as { stackTraceLimit?: number }
  const limit = errorCtor.stackTraceLimit
  try {
    if (!ErrorCaptureStackTrace) {
      errorCtor.stackTraceLimit = frames
      return new SafeError(message)
    }
    // No frames twice: the constructor takes none, captureStackTrace takes them from the caller on.
    errorCtor.stackTraceLimit = 0
    const error = new SafeError(message)
    errorCtor.stackTraceLimit = frames
    ErrorCaptureStackTrace(error, ownError)
    return error
  } finally {
    errorCtor.stackTraceLimit = limit
  }
}

/** Call sites as the hook of load time formats an error's stack (Vitest's maps them to the original source); undefined where there was none. */
export function formatSites(error: Error, sites: readonly unknown[]): string | undefined {
  if (typeof loadPrepareStackTrace !== 'function') return undefined
  return String(ReflectApply(loadPrepareStackTrace as (...args: unknown[]) => unknown, SafeError, [error, sites]))
}

/**
 * Runs `fn` (library code that calls the global `JSON.parse`, such as Vite's
 * source-map decoding) with the JSON of load time: a test may have mocked it.
 */
export function withLoadJSON<T>(fn: () => T): T {
  const current = (globalThis as { JSON: typeof JSON }).JSON
  if (current === SafeJSON && current.parse === JSONParse) return fn()
  return withValues([[globalThis, 'JSON', SafeJSON], [SafeJSON, 'parse', JSONParse]], fn)
}

/** A V8 call site, as `Error.prepareStackTrace` receives it. */
export interface CallSite {
  getFileName(): string | null | undefined
  getFunctionName(): string | null
  getLineNumber(): number | null
  getColumnNumber(): number | null
}

/**
 * The call sites of an error the watchdog made, unformatted (generated-code
 * positions); a string where this realm's hook was not the one applied.
 */
export function sitesOf(error: Error): readonly CallSite[] | string {
  const stack: unknown = withValues([[SafeError, 'prepareStackTrace', (_: unknown, sites: readonly CallSite[]) => sites]], () => error.stack)
  return typeof stack === 'string' || ArrayIsArray(stack) ? (stack as readonly CallSite[] | string) : ''
}

/** The stack of an error the watchdog made, formatted by the hook of load time, not a test's. */
export function stackOf(error: Error): string {
  return withOwnStackTraces(() => {
    const stack: unknown = error.stack
    return typeof stack === 'string' ? stack : ''
  })
}
