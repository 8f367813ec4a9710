/**
 * Every child process a worker spawns carries, in its environment, which
 * worker (process id and thread id) spawned it and whether the worker waits
 * for it synchronously (execSync, spawnSync, execFileSync). The main process
 * reads it from /proc: a thread blocked in a system call is waiting on its
 * synchronous child, and killing exactly that child frees it; a thread that is
 * terminated takes exactly its own children with it. Never a guess by start
 * time, never another test's child.
 */
export const CHILD_MARK = 'VITEST_WATCHDOG_CHILD'

export type ChildWait = 'sync' | 'async'

/** The mark's value: `<pid>:<threadId>:<sync|async>`. */
export function childMark(pid: number, threadId: number, wait: ChildWait): string {
  return `${pid}:${threadId}:${wait}`
}
