import type { Worker } from 'node:worker_threads'

/**
 * Worker threads the watchdog gave up on (threads pools), and the one way out
 * of a process that still holds one when it exits.
 *
 * Node cannot exit while a worker thread of its own is blocked in a system
 * call: at exit (a natural one or `process.exit()`) it terminates and then
 * *joins* every worker thread, and a thread blocked in `open(2)` or `read(2)`
 * (a FIFO nobody writes to, a terminal) never comes back to take the
 * termination; libuv retries a call interrupted by a signal, so no signal
 * frees it either. Vitest's own exit would then hang for ever after its
 * "close timed out" message. So, on `exit`, once every other listener has run
 * (the reports are written), a process that still holds such a thread ends
 * without the join: on Node with `process.execve` (22.15, 23.11 and later) by
 * replacing itself with `sh -c "exit <code>"`, which keeps the exit code (the
 * kernel ends every other thread of the process on exec); on older Node by
 * `SIGKILL` to itself (exit status 137).
 */

const stuck = new Set<Worker>()
const descriptions = new WeakMap<Worker, string>()
let listening = false
/** Every test thread of the run while it lives (threads pools). */
const running = new Set<Worker>()

/** A test thread started: the emergency exit must know it may be one that cannot be joined. */
export function watchThread(thread: Worker | undefined): void {
  if (!thread || running.has(thread)) return
  running.add(thread)
  thread.once('exit', () => running.delete(thread))
}

/**
 * The emergency exit (runTimeout's hard stop): the run is stuck, and any of
 * its test threads may be blocked in a system call nobody has seen yet; a
 * plain process.exit() would join them and could hang for ever. Every live
 * test thread is left behind, so the exit below does without the join.
 */
export function exitNow(code: number): void {
  for (const thread of running) if (!stuck.has(thread)) leaveBehind(thread, 'a test thread still running at the hard stop')
  process.exit(code)
}

/**
 * A thread left behind, blocked in a system call that killing its children
 * did not end: it must neither keep the run alive nor hang its exit. (A
 * thread left spinning is not one: Node's exit terminates it.)
 */
export function leaveBehind(thread: Worker | undefined, what: string): void {
  if (!thread) return
  unrefThread(thread)
  stuck.add(thread)
  thread.once('exit', () => stuck.delete(thread))
  descriptions.set(thread, what)
  if (!listening) {
    listening = true
    // Added at the first thread left behind, after the reporter's own `exit`
    // listener (added when the run started): the report is complete first.
    process.on('exit', exitWithoutJoin)
  }
}

/** A thread that must not keep the run alive, whatever it does (left behind, or spinning where it cannot be terminated). */
export function unrefThread(thread: Worker | undefined): void {
  if (!thread) return
  thread.unref()
  // Its stdout and stderr, piped to Vitest's, wait for data on the thread's
  // internal port, and a stream waiting for data keeps that port referenced
  // (Node's ReadableWorkerStdio): unref() on the Worker leaves it so, and the
  // process would stay up after Vitest closed. The port is private: found by
  // its symbol's name, and when a Node version names it otherwise, Vitest's
  // close timeout (teardownTimeout) still ends the wait.
  const port = Object.getOwnPropertySymbols(thread).find((symbol) => symbol.description === 'kPort')
  ;(port && (thread as unknown as Record<symbol, { unref?: () => void } | undefined>)[port])?.unref?.()
}

/** How many threads are left behind and still running. */
export function threadsLeftBehind(): number {
  return stuck.size
}

function exitWithoutJoin(code: number): void {
  if (stuck.size === 0) return
  const exitCode = code || Number(process.exitCode) || 0
  const which = [...stuck].map((thread) => descriptions.get(thread)).join('; ')
  const execve = (process as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never }).execve
  const how = execve ? `with exit code ${exitCode}` : 'by SIGKILL (exit status 137: this Node has no process.execve, which would keep the exit code)'
  process.stderr.write(`vitest-watchdog: ${stuck.size === 1 ? 'a test thread is' : `${stuck.size} test threads are`} still blocked or running (${which}); Node cannot exit while such a thread runs, so this process ends ${how}, after every report was written.\n`)
  if (execve) {
    try {
      execve('/bin/sh', ['sh', '-c', `exit ${exitCode}`], {})
    } catch {
      // No /bin/sh, or exec refused: the kill below still ends the process.
    }
  }
  process.kill(process.pid, 'SIGKILL')
}
