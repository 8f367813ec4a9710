/**
 * What the page (src/browser/) and the main process (src/host/browser/) say
 * to each other in browser mode. The page journals each guarded run through
 * Vitest's browser commands (a WebSocket to the main process); the main
 * process, while the page is paused in the debugger, evaluates the endpoint
 * installed on the tester frame's `window` under BROWSER_ENDPOINT_KEY.
 */
import type { SourceLocation } from './stop.js'
import type { RunAnnouncement } from './journal.js'

/** Command names: Vitest allows letters, digits, `$` and `_` only. */
export const RUN_COMMAND = '__vitest_watchdog_run'
export const DONE_COMMAND = '__vitest_watchdog_done'
/** Maps creation stacks of leaked timers to the original source: the page has no source maps of its own. */
export const MAP_COMMAND = '__vitest_watchdog_map'
export const BROWSER_ENDPOINT_KEY = '__vitest_watchdog_browser__'

/** A guarded run begins: the main process arms its stop at budget + grace. */
export interface RunMessage extends RunAnnouncement {
  /** The tester frame's own id: several frames of one page share its thread, and count runs from 1 each. */
  frame: string
}

/**
 * Asked while the page is paused, in the frame it paused in: is run `seq` of
 * frame `frame` still running? `elsewhere`: the page paused in another frame
 * (whose run holds the thread, and has a deadline of its own).
 */
export type ClaimAnswer =
  /** `seq`: the run stopped (among concurrent tests, the one whose code is stuck); `restarted`: its siblings, whose clocks start again. */
  | { state: 'claimed'; seq: number; restarted: number[] }
  | { state: 'ended' }
  | { state: 'elsewhere' }

/** Given to the page after the stuck JavaScript was terminated: the run fails at stage interrupt with these. */
export interface Verdict {
  location: SourceLocation | null
  /** V8-format frames in the page's own (served) coordinates: Vitest maps them like any browser error's. */
  stack: string
  /** The same frames in original coordinates, for the report. */
  originalStack: string
}

export interface BrowserEndpoint {
  /** `stuck`: the first user frame of the pause, original coordinates: tells concurrent tests apart. */
  claim(frame: string, seq: number, stuck: { file: string; line: number } | null): ClaimAnswer
  deliver(frame: string, seq: number, verdict: Verdict): boolean
}


/** A creation stack in original coordinates: the first user frame (relative to the root) and the frames from it. */
export interface MappedStack {
  location: SourceLocation | null
  stack: string
}
