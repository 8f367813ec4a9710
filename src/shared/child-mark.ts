/**
 * Every child process a worker spawns carries, in its environment, which
 * worker (process id and thread id) spawned it and whether the worker waits
 * for it synchronously (execSync, spawnSync, execFileSync). The main process
 * reads it from /proc: a thread that is terminated takes exactly its own
 * children with it, even re-parented ones. For a thread blocked in a system
 * call the mark is a hint only: the child it waits on is found by parentage
 * and start time (host/ladder/targets.ts), since the test owns its children's
 * environment; the mark chooses among those candidates.
 */
export const CHILD_MARK = 'VITEST_WATCHDOG_CHILD'

export type ChildWait = 'sync' | 'async'

/** The mark's value: `<pid>:<threadId>:<sync|async>`. */
export function childMark(pid: number, threadId: number, wait: ChildWait): string {
  return `${pid}:${threadId}:${wait}`
}
