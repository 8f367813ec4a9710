/**
 * The shared memory between the test thread and its helper thread.
 *
 * A single Int32 slot, RUN, says which test is running: its sequence number
 * when one is, 0 when none is, and minus that number once the helper has
 * claimed it for a stop. Both sides only change it with compare-and-swap, so
 * a test that finishes just as its deadline passes is either finished (the
 * helper's swap fails) or claimed (the runner's swap fails and it waits for the
 * helper's verdict): never both, and the helper never stops the wrong test.
 * The helper reads RUN while the test thread is paused, which is why this is
 * shared memory and not a message.
 */
export const RUN = 0
/** Float64 slots: absolute times in ms (performance.timeOrigin + now), comparable across threads. */
export const DEADLINE = 0
/** When the run is past half its budget: the helper announces it as SLOW. */
export const SLOW_AT = 1

export interface Channel {
  sab: SharedArrayBuffer
  run: Int32Array
  times: Float64Array
}

export function createChannel(sab = new SharedArrayBuffer(24)): Channel {
  return { sab, run: new Int32Array(sab, 0, 2), times: new Float64Array(sab, 8, 2) }
}

/** Frames as the helper saw them through CDP: transformed-code coordinates, 0-based. */
export interface RawFrame {
  functionName: string
  url: string
  lineNumber: number
  columnNumber: number
}

/** What the helper tells the test thread after it claimed a test. */
export interface Verdict {
  kind: 'interrupted'
  seq: number
  frames: RawFrame[]
}

export interface HelperData {
  sab: SharedArrayBuffer
  grace: number
  /** Project root, for the paths the helper prints. */
  root: string
  /** The test thread's threadId under the threads pool; null when it is the process's main thread (forks). */
  threadId: number | null
  /** Where the helper appends a record before it kills the worker, so the main process can report it. */
  killLogFile: string | null
}

export type { KillRecord, RunningTest } from '../shared/kill-log.js'

/** Global the runner installs so the helper can map frames while the test thread is paused. */
export const FRAME_MAPPER_GLOBAL = '__vitest_watchdog_map_frames__'
