/**
 * One stop, one shape. Whatever stopped a guarded run (a test body, a hook,
 * the import of a file), and wherever that was decided (the worker's own
 * timers for `abort`, the main process for `interrupt` and `kill`), it is
 * described by a `Stop`. The error a test fails with, the report entry, the
 * terminal summary, GitHub annotations and JUnit output are all made from it,
 * and `describeStop` is the only place that turns it into words.
 */
import { relative } from 'node:path'
import { MathRound, StringPrototypeStartsWith } from './intrinsics.js'
import { oneLine } from './one-line.js'

export type Stage = 'abort' | 'interrupt' | 'kill'

export interface SourceLocation {
  file: string
  line: number
  column: number
}

/**
 * Why the ladder ended where it did. Stable: tests, the report and users'
 * scripts match on these, never on the sentences.
 */
export type StopReason =
  /** Stage abort: the run settled within grace after its signal was aborted (or its budget ran out). */
  | 'settled-after-abort'
  /** Stage abort: nothing was running; it waited on a promise that never settled. */
  | 'never-settled'
  /** Stage interrupt: the running JavaScript was terminated; the worker goes on. */
  | 'interrupted'
  /** Stage kill: the thread did not answer the inspector, or did not pause while the kernel reported it sleeping (a system call, a native addon's wait). */
  | 'blocked-outside-js'
  /** Stage kill: the thread answered the inspector but never took the pause, while not sleeping (JavaScript near the end of its stack, as a recursion that catches RangeError; a native addon's loop). */
  | 'pause-not-taken'
  /** Stage kill: blocked waiting on a child process (execSync): that child was killed, the call returned, the worker goes on. */
  | 'child-killed'
  /** Stage kill: stuck in a timer, I/O or hook callback, where terminating JavaScript would crash Node. */
  | 'unsafe-async-callback'
  /** Stage kill: could not tell whether terminating was safe, or the termination was not confirmed. */
  | 'unconfirmed'
  /** Stage kill: the worker's inspector did not announce itself after SIGUSR1 while its thread ran (its stderr closed, a SIGUSR1 handler of the test's own). */
  | 'inspector-unavailable'
  /** The worker died by itself (a crash, process.exit, a signal): not a stop of the watchdog's. */
  | 'crashed'


export interface Stop {
  /** What was stopped, as the message's first words: "Test", 'Hook "beforeEach" of test "x"', 'Import of "a.test.ts"'. */
  subject: string
  stage: Stage
  reason: StopReason
  killAfter: number
  /** Where the budget came from: "testTimeout", "the test's timeout", "watchdog({ killAfter })", 'meta of test "x" (a.test.ts)'. */
  budgetSource: string
  grace: number
  elapsedMs: number
  /** The top frame in user code, original coordinates; null when no JavaScript was running. */
  location: SourceLocation | null
  /** V8-format frames, original coordinates: Vitest prints a code frame at the first user frame. */
  stack: string
  /** Whether the run could be told to abort (a test's signal); phrases the abort stage. */
  hadSignal?: boolean
  /** `unsafe-async-callback`: the async id found on the paused frame. */
  asyncId?: number
  /** Other guarded runs (test.concurrent) in flight in the same worker when it was stopped. */
  concurrent?: number
  /** Threads pool, `unsafe-async-callback`: the thread was left spinning, unref'd, not terminated. */
  abandoned?: boolean
  /** `crashed`: how the worker died. */
  crash?: { signal: string | null; exitCode: number | null }
  /** `crashed`: what was running ("this test", "the beforeAll hook of this suite"). */
  during?: string
  /** Browser mode: the test ran in a page, not in a worker (words only). */
  inPage?: boolean
  /** Stage kill, or a crash: the rest of the file ran in a fresh worker. */
  resumed?: boolean
  /** Stage kill, decided in the main process: what it saw of the thread (words only). */
  observed?: Observation
}

/**
 * What the main process saw when it gave up on stopping a thread in
 * JavaScript: facts, which describeStop words apart from what they usually mean.
 */
export interface Observation {
  /**
   * The step that got no answer: `announce` (no inspector URL on the worker's
   * stderr after SIGUSR1), `connect` (its inspector refused the session),
   * `attach` (a worker thread's NodeWorker session), `enable`
   * (Debugger.enable), `pause` (answered, but never paused), `endpoint` (paused,
   * but the watchdog's endpoint did not answer), `terminate` (the termination
   * was not confirmed); `looks`: every look found nothing to claim.
   */
  step: 'announce' | 'connect' | 'attach' | 'enable' | 'pause' | 'endpoint' | 'terminate' | 'looks'
  /** How long that step was given, in ms (`looks`: how many looks). */
  bound: number
  /** Linux: the thread's state letter in /proc (R running, S sleeping, D uninterruptible), when read. */
  state?: string
  /** Linux: the kernel function it sleeps in (/proc/<pid>/wchan), when the kernel tells. */
  wchan?: string
  /** Linux: the worker's fd 2 is closed, or no longer the stderr it started with. */
  stderrClosed?: boolean
  /** How many child processes it might have waited on (see InspectorTarget.blockingChildren) were killed first, without freeing it. */
  childrenKilled?: number
}

/**
 * Without CDP nothing can look inside a page: at budget + grace the page's
 * own never-settled timer, due then, ends an idle run; a run still going this
 * long after is not idle, so its page is closed (host/browser/ladder.ts).
 */
export const NO_CDP_KILL_MARGIN_MS = 1_000
const NO_CDP_MARGIN_WORDS = `${NO_CDP_KILL_MARGIN_MS / 1_000} s`

/**
 * The one place a stop becomes the words of a test's error: what a Vitest
 * user knows (it timed out, after what budget), what the watchdog did and
 * where the test was stuck, then how to give it more time. What was observed
 * on the way is the report's (stopDetail). `root` makes the location relative.
 */
export function describeStop(stop: Stop, root?: string): string {
  if (stop.reason === 'crashed') return crashText(stop)
  // Subjects and budget sources quote test, describe and file names: one line each, whatever the names hold.
  const lead = `${oneLine(stop.subject)} timed out after ${stop.killAfter}ms (${oneLine(stop.budgetSource)}).`
  const at = locationText(stop, root)
  return `${lead} ${actionText(stop, at)}\n${hintText(stop)}`
}

/**
 * The whole account of a stop, for the report's `note`: the stage, the time
 * it took, what was observed and what that usually means.
 */
export function stopDetail(stop: Stop, root?: string): string {
  if (stop.reason === 'crashed') return crashText(stop)
  const head = `${oneLine(stop.subject)} stopped by vitest-watchdog at stage "${stop.stage}" after ${MathRound(stop.elapsedMs)}ms (killAfter ${stop.killAfter}ms, from ${oneLine(stop.budgetSource)}).`
  const at = locationText(stop, root)
  const where = at ? ` It was stuck at ${at}.` : ''
  const concurrent = stop.concurrent && stop.stage === 'interrupt' ? ` ${stop.concurrent} other test(s) were running concurrently in this worker.` : ''
  const resumed = stop.resumed ? ' The rest of the file ran in a fresh worker.' : ''
  return `${head}${where} ${reasonText(stop)}${concurrent}${resumed}`
}

function crashText(stop: Stop): string {
  return `The worker process died during ${oneLine(stop.during ?? 'this test')} (${describeExit(stop.crash)}) after ${MathRound(stop.elapsedMs)}ms. vitest-watchdog ran the rest of the file in a fresh worker.`
}

function locationText(stop: Stop, root: string | undefined): string {
  if (!stop.location) return ''
  const file = oneLine((root ? relative(root, stop.location.file) || stop.location.file : stop.location.file) ?? '')
  return `${file}:${stop.location.line}:${stop.location.column}`
}

/** What the watchdog did, in a few words, and where the run was stuck. */
function actionText(stop: Stop, at: string): string {
  const stuck = at ? `, stuck at ${at}` : ''
  const resumed = stop.resumed ? '; the rest of the file ran in a fresh one' : ''
  const ended = stop.inPage ? 'closed the page' : stop.abandoned ? "left its thread behind, unref'd" : 'killed the worker'
  switch (stop.reason) {
    case 'settled-after-abort':
      return stop.hadSignal ? `It settled after vitest-watchdog aborted its signal${stuck}.` : `It settled by itself within the grace period${stuck}.`
    case 'never-settled':
      return 'vitest-watchdog ended it: no code was running, it was waiting on a promise that never settled.'
    case 'interrupted':
      return at ? `vitest-watchdog interrupted it at ${at}.` : 'vitest-watchdog interrupted its running code.'
    case 'child-killed':
      return `vitest-watchdog killed the child process it was waiting on (execSync, spawnSync)${stuck}.`
    case 'blocked-outside-js':
      return `vitest-watchdog ${ended}: it was blocked outside JavaScript${stuck}${resumed}.`
    case 'pause-not-taken':
      return `vitest-watchdog ${ended}: its JavaScript could not be paused${stuck}${resumed}.`
    case 'unsafe-async-callback':
      return `vitest-watchdog ${ended}: it was spinning inside a timer or I/O callback${stuck}${resumed}.`
    case 'unconfirmed':
      return `vitest-watchdog ${ended}: its code could not be stopped safely${stuck}${resumed}.`
    case 'inspector-unavailable':
      return `vitest-watchdog ${ended}: its code could not be reached to interrupt${stuck}${resumed}.`
    case 'crashed':
      return ''
  }
}

/** How to give it more time: the setting its budget came from. */
function hintText(stop: Stop): string {
  const source = stop.budgetSource
  if (StringPrototypeStartsWith(source, 'watchdog({ runTimeout })')) return 'The whole run reached its deadline: raise runTimeout in watchdog({ runTimeout }) to give it more time.'
  if (StringPrototypeStartsWith(stop.subject, 'Import of ')) return 'To give it more time: watchdog({ importKillAfter: ms }).'
  const setting = source === 'watchdog({ killAfter })' ? 'watchdog({ killAfter })' : StringPrototypeStartsWith(stop.subject, 'Hook ') ? 'hookTimeout' : 'testTimeout'
  return `To give it more time: killAfter(ms) in the test's options, or ${setting}.`
}

/** How a worker died, in words: "killed by SIGKILL", "exit code 1". */
export function describeExit(crash: Stop['crash']): string {
  return crash?.signal ? `killed by ${crash.signal}` : `exit code ${crash?.exitCode}`
}

function reasonText(stop: Stop): string {
  const signal = stop.hadSignal ? 'its signal being aborted' : 'its budget running out'
  switch (stop.reason) {
    case 'settled-after-abort':
      return stop.hadSignal ? 'It settled after its signal was aborted.' : 'It settled by itself during the grace period.'
    case 'never-settled':
      return `No JavaScript was running: it was waiting on a promise that never settled, and did not settle within ${stop.grace}ms of ${signal}.`
    case 'interrupted':
      return `${stop.hadSignal ? `Its signal was aborted and ignored for ${stop.grace}ms` : `It was still running ${stop.grace}ms after its budget`}, so the running JavaScript was terminated; the ${stop.inPage ? 'page' : 'worker'} goes on.`
    case 'blocked-outside-js':
      return stop.inPage
        ? 'The page did not answer, and its JavaScript could not be terminated: it is blocked outside JavaScript (a synchronous request, a frozen or crashed tab), so the page was closed.'
        : `${seen(stop.observed)} ${stop.observed?.state === 'R' ? 'That usually means native code that does not come back to JavaScript (a native addon\'s loop)' : 'That usually means a system call (a read of a pipe, FIFO or socket, a lock) or a native addon\'s wait'}; so the worker was killed.`
    case 'pause-not-taken':
      return `${seen(stop.observed)} The debugger does not break in JavaScript running near the end of its stack (a deep recursion, such as one that catches RangeError and recurses again), nor in a native addon's loop${stop.observed?.state ? '' : ', and a thread that entered a system call since it answered cannot take it either'}. So the worker was killed.`
    case 'child-killed':
      return 'It was blocked in a system call waiting on a child process (execSync, spawnSync): that process was killed, so the call returned; the worker goes on.'
    case 'unsafe-async-callback':
      return stop.abandoned
        ? `It was stuck inside a timer, I/O or hook callback (async id ${stop.asyncId}), where terminating the thread could abort the whole process, so the thread was abandoned: it keeps spinning, unref'd, until the run ends.`
        : `It was stuck inside a timer, I/O or hook callback (async id ${stop.asyncId}), where terminating JavaScript would crash Node, so the worker was killed.`
    case 'unconfirmed':
      return stop.inPage
        ? "The page was idle, yet the run's own timers never ended it (the page stopped running its tasks), so the page was closed."
        : `${stop.observed ? seen(stop.observed) : 'Could not tell whether terminating this JavaScript is safe.'} So the worker was killed.`
    case 'inspector-unavailable':
      return stop.inPage
        ? `This browser gives no Chrome DevTools Protocol session (Firefox, WebKit), so running JavaScript cannot be interrupted, and the page, still busy ${NO_CDP_MARGIN_WORDS} after the grace period, was closed.`
        : `${seen(stop.observed)} ${stop.observed?.stderrClosed ? 'With its stderr closed, the inspector cannot tell its address' : 'Its stderr may be closed, or the test may handle SIGUSR1 itself'}; so the worker was killed.`
    case 'crashed':
      return ''
  }
}

/** What the main process observed, as facts: the step that got no answer, and what the kernel said of the thread. */
function seen(observed: Observation | undefined): string {
  if (!observed) return 'The test thread did not answer the inspector.'
  const { step, bound } = observed
  const kernel = kernelWords(observed)
  const freed = observed.childrenKilled ? ` Killing ${observed.childrenKilled === 1 ? 'the child process' : `the ${observed.childrenKilled} child processes`} it might have been waiting on did not free it.` : ''
  switch (step) {
    case 'announce':
      return `The worker's inspector did not announce itself within ${bound}ms of SIGUSR1 (no address on the worker's stderr)${kernel}.${freed}`
    case 'connect':
      return `The worker's inspector announced itself but did not accept a session within ${bound}ms${kernel}.${freed}`
    case 'attach':
      return `The test thread did not accept an inspector session within ${bound}ms${kernel}.${freed}`
    case 'enable':
      return `The test thread did not answer the inspector (Debugger.enable) within ${bound}ms${kernel}.${freed}`
    case 'pause':
      return `The test thread answered the inspector but did not take the pause within ${bound}ms${kernel}.${freed}`
    case 'endpoint':
      return `The test thread paused, but the watchdog's code did not answer on it within ${bound}ms (it cannot run, for one, on a thread paused near the end of its stack), so whether terminating it is safe is unknown.`
    case 'terminate':
      return `The test thread's JavaScript was claimed, but its termination was not confirmed within ${bound}ms.`
    case 'looks':
      return `In ${bound} looks, the paused thread was never found in this run's code where terminating is safe (it was in the watchdog's or Node's code, or in an async callback), yet the run did not end.`
  }
}

/** The states of /proc/<pid>/stat a stuck thread is found in. */
const STATE_WORDS: Record<string, string> = { R: 'running', S: 'sleeping', D: 'in an uninterruptible wait', T: 'stopped', t: 'stopped by a tracer' }

/** The kernel's word on the thread, when /proc gave one. */
function kernelWords({ state, wchan, stderrClosed }: Observation): string {
  const closed = stderrClosed ? "; its stderr is closed (fd 2 is no longer the pipe it started with)" : ''
  if (!state) return closed
  const what = STATE_WORDS[state]
  const where = wchan ? `, in ${wchan}` : ''
  return `, while the kernel reported the thread ${what ? `${what} (state ${state}${where})` : `in state ${state}${where}`}${closed}`
}
