/**
 * What the page (src/browser/) and the main process (src/host/browser/) say
 * to each other in browser mode. The page announces each guarded run through
 * a CDP binding the main process installs on the top window
 * (BROWSER_BINDING: one message, no answer), or, before the binding exists
 * and in browsers without CDP, through Vitest's browser commands (a
 * WebSocket round trip). The main process reaches the page through the
 * endpoint registry the tester frames install on the top window under
 * BROWSER_ENDPOINT_KEY (the frames are same-origin: one registry serves
 * them all).
 */
import type { SourceLocation } from './stop.js'
import type { RunAnnouncement } from './journal.js'

/** Command names: Vitest allows letters, digits, `$` and `_` only. */
export const RUN_COMMAND = '__vitest_watchdog_run'
export const DONE_COMMAND = '__vitest_watchdog_done'
/** Maps creation stacks of leaked timers to the original source: the page has no source maps of its own. */
export const MAP_COMMAND = '__vitest_watchdog_map'
export const BROWSER_ENDPOINT_KEY = '__vitest_watchdog_browser__'
/**
 * Where the page code (a module the tester HTML loads before Vitest's tester,
 * see host/browser/tester-html.ts) leaves its installer on Vitest's page state
 * (`__vitest_browser_runner__`): the inline script there calls it when Vitest
 * assigns the runner.
 */
export const PAGE_INSTALL_KEY = '__vitest_watchdog_install__'
/** The binding's name on the top window: a function taking one string, a JSON BindingMessage. */
export const BROWSER_BINDING = '__vitest_watchdog_binding__'

export type BindingMessage = { kind: 'run'; run: RunMessage } | { kind: 'done'; frame: string; seq: number }

/** A guarded run begins: the main process arms its stop at budget + grace. */
export interface RunMessage extends RunAnnouncement {
  /** The tester frame's own id: several frames of one page share its thread, and count runs from 1 each. */
  frame: string
}

/** The page's answer to a stop: the run stopped (among concurrent tests, the one whose code was stuck), or it had ended. */
export type StopAnswer =
  /** `seq`: the run stopped; `restarted`: its siblings, whose clocks start again. */
  | { state: 'stopped'; seq: number; restarted: number[] }
  | { state: 'ended' }

/** Given to the page after the stuck JavaScript was terminated: the run fails at stage interrupt with these. */
export interface Verdict {
  location: SourceLocation | null
  /** V8-format frames in the page's own (served) coordinates: Vitest maps them like any browser error's. */
  stack: string
  /** The same frames in original coordinates, for the report. */
  originalStack: string
}

/**
 * A tester frame's endpoint. The registry on the top window holds one per
 * live frame, by frame id (`Record<string, BrowserEndpoint>`): plain data,
 * since a function of a frame that is gone must never be called.
 */
export interface BrowserEndpoint {
  /** `running`: the run has not ended (the page answering means it is not running code now). */
  state(seq: number): 'running' | 'ended'
  /**
   * The page's running JavaScript was terminated: fails the run at stage
   * interrupt. `stuck`: the first user frame where it was (original
   * coordinates), which tells concurrent tests apart.
   */
  stop(seq: number, stuck: { file: string; line: number } | null, verdict: Verdict): StopAnswer
}


/** A creation stack in original coordinates: the first user frame (relative to the root) and the frames from it. */
export interface MappedStack {
  location: SourceLocation | null
  stack: string
}
