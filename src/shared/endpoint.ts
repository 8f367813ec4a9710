/**
 * What the main process asks a paused worker thread, and what it answers.
 *
 * The runner installs an object under ENDPOINT_KEY on `process`: under the
 * vm pools the runner lives in a vm context, while Runtime.evaluate runs in the
 * worker's main context, and `process` is the one object both see. While the
 * thread is paused in the debugger, the main process evaluates `inspect(...)`
 * on it: the worker has
 * the source maps, knows which runs are in flight and which one's code is
 * stuck, and decides atomically (the thread is paused) whether the stop goes
 * ahead. After terminating the stuck JavaScript the main process evaluates
 * `deliver(seq)`, and the run fails at stage `interrupt`.
 */
import type { SourceLocation } from './stop.js'

export const ENDPOINT_KEY = '__vitest_watchdog__'
/**
 * The endpoint is also on the global object under this symbol: a test may
 * replace the global `process` (vi.stubGlobal) of the context Runtime.evaluate
 * runs in, under forks and threads; under the vm pools the stub is the vm
 * context's, and the main context's `process` is still the real one.
 */
export const ENDPOINT_SYMBOL = 'vitest-watchdog.endpoint'

const ENDPOINT = `(globalThis[Symbol.for(${JSON.stringify(ENDPOINT_SYMBOL)})] ?? process[${JSON.stringify(ENDPOINT_KEY)}])`

/** The expression that calls `method` of the endpoint with JSON-able arguments; undefined if there is none. */
export function endpointCall(method: Exclude<keyof Endpoint, 'pid'>, ...args: unknown[]): string {
  return `${ENDPOINT}?.${method}(${args.map((arg) => JSON.stringify(arg)).join(', ')})`
}

/** The expression for the pid of the worker whose endpoint this is: an inspector reached through a URL a worker printed is this worker's only if it answers with its pid. */
export const ENDPOINT_PID = `${ENDPOINT}?.pid`

/** A frame as CDP gives it: transformed-code coordinates, 0-based. */
export interface RawFrame {
  functionName: string
  url: string
  lineNumber: number
  columnNumber: number
}

export type InspectAnswer =
  /** The run is over (it settled, or the worker's own abort stage ended it): nothing to stop. */
  | { state: 'ended' }
  /** Paused in the runner's own code with no user code below: the runner was about to end the run itself. */
  | { state: 'handback' }
  /** No user frame on the stack, and the caller asked for one: maybe an idle thread running someone else's callback. Not claimed. */
  | { state: 'no-user-frame' }
  /**
   * The stuck code is run `seq`'s, and terminating it is safe (async id 0):
   * it is claimed; terminate, resume, then deliver.
   */
  | { state: 'claimed'; seq: number; location: SourceLocation | null; stack: string; concurrent: number }
  /** Stuck in run `seq`'s code inside an async callback: terminating would crash Node. Not claimed. */
  | { state: 'unsafe'; seq: number; asyncId: number; location: SourceLocation | null; stack: string }

export interface Endpoint {
  /** The worker's process id, read when the runner started. */
  readonly pid: number
  inspect(seq: number, frames: RawFrame[], requireUserFrame: boolean): InspectAnswer
  deliver(seq: number): boolean
  /**
   * Closes this process's inspector on the next turn of the event loop, never
   * in the middle of running JavaScript: evaluated while a thread spins, the
   * expression runs inside a V8 interrupt, and closing the inspector there
   * crashed the worker (SIGSEGV, seen on Node 20 in a timer callback).
   */
  closeInspector(): void
  /** A new stop needs the inspector that a previous one asked to close: cancels that close. */
  keepInspector(): void
}
