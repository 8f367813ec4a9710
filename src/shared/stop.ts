/**
 * One stop, one shape. Whatever stopped a guarded run (a test body, a hook,
 * the import of a file), and wherever that was decided (the worker's own
 * timers for `abort`, the main process for `interrupt` and `kill`), it is
 * described by a `Stop`. The error a test fails with, the report entry, the
 * terminal summary, GitHub annotations and JUnit output are all made from it,
 * and `describeStop` is the only place that turns it into words.
 */
import { relative } from 'node:path'
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
  /** Stage kill: the thread did not answer the inspector: blocked in a system call or a native addon. */
  | 'blocked-outside-js'
  /** Stage kill: blocked waiting on a child process (execSync): that child was killed, the call returned, the worker goes on. */
  | 'child-killed'
  /** Stage kill: stuck in a timer, I/O or hook callback, where terminating JavaScript would crash Node. */
  | 'unsafe-async-callback'
  /** Stage kill: could not tell whether terminating was safe, or the termination was not confirmed. */
  | 'unconfirmed'
  /** Stage kill: the worker's inspector could not be opened (a SIGUSR1 handler of the test's own, say). */
  | 'inspector-unavailable'
  /** The worker died by itself (a crash, process.exit, a signal): not a stop of the watchdog's. */
  | 'crashed'


export interface Stop {
  /** What was stopped, as the message's first words: "Test", 'Hook "beforeEach" of test "x"', 'Import of "a.test.ts"'. */
  subject: string
  stage: Stage
  reason: StopReason
  killAfter: number
  /** Where the budget came from: "Vitest testTimeout", "watchdog({ killAfter })", 'meta of test "x" (a.test.ts)'. */
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
}

/** The one place a stop becomes words. `root` makes the location relative. */
/**
 * Without CDP nothing can look inside a page: at budget + grace the page's
 * own never-settled timer, due then, ends an idle run; a run still going this
 * long after is not idle, so its page is closed (host/browser/ladder.ts).
 */
export const NO_CDP_KILL_MARGIN_MS = 1_000
const NO_CDP_MARGIN_WORDS = `${NO_CDP_KILL_MARGIN_MS / 1_000} s`

export function describeStop(stop: Stop, root?: string): string {
  if (stop.reason === 'crashed') {
    return `The worker process died during ${oneLine(stop.during ?? 'this test')} (${describeExit(stop.crash)}) after ${Math.round(stop.elapsedMs)}ms. vitest-watchdog ran the rest of the file in a fresh worker.`
  }
  // Subjects and budget sources quote test, describe and file names: one line each, whatever the names hold.
  const head = `${oneLine(stop.subject)} stopped by vitest-watchdog at stage "${stop.stage}" after ${Math.round(stop.elapsedMs)}ms (killAfter ${stop.killAfter}ms, from ${oneLine(stop.budgetSource)}).`
  const file = oneLine((stop.location && root ? relative(root, stop.location.file) || stop.location.file : stop.location?.file) ?? '')
  const where = stop.location ? ` It was stuck at ${file}:${stop.location.line}:${stop.location.column}.` : ''
  const concurrent = stop.concurrent && stop.stage === 'interrupt' ? ` ${stop.concurrent} other test(s) were running concurrently in this worker.` : ''
  const resumed = stop.resumed ? ' The rest of the file ran in a fresh worker.' : ''
  return `${head}${where} ${reasonText(stop)}${concurrent}${resumed}`
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
        : 'The test thread did not pause within the grace period: it is blocked outside JavaScript (a system call such as execSync, or a native addon), so the worker was killed.'
    case 'child-killed':
      return 'It was blocked in a system call waiting on a child process (execSync, spawnSync): that process was killed, so the call returned; the worker goes on.'
    case 'unsafe-async-callback':
      return stop.abandoned
        ? `It was stuck inside a timer, I/O or hook callback (async id ${stop.asyncId}), where terminating the thread could abort the whole process, so the thread was abandoned: it keeps spinning, unref'd, until the run ends.`
        : `It was stuck inside a timer, I/O or hook callback (async id ${stop.asyncId}), where terminating JavaScript would crash Node, so the worker was killed.`
    case 'unconfirmed':
      return stop.inPage
        ? "The page was idle, yet the run's own timers never ended it (the page stopped running its tasks), so the page was closed."
        : 'Could not tell whether terminating this JavaScript is safe, or the termination was not confirmed, so the worker was killed.'
    case 'inspector-unavailable':
      return stop.inPage
        ? `This browser gives no Chrome DevTools Protocol session (Firefox, WebKit), so running JavaScript cannot be interrupted, and the page, still busy ${NO_CDP_MARGIN_WORDS} after the grace period, was closed.`
        : "The worker's inspector could not be opened (does the test handle SIGUSR1 itself?), so the worker was killed."
    case 'crashed':
      return ''
  }
}
