import { fork, type ChildProcess } from 'node:child_process'
import { ForksPoolWorker } from 'vitest/node'

/**
 * Vitest's forks worker, started as the leader of its own process group.
 *
 * Owning the group is what lets the kill stage reach every process a test
 * spawned, grandchildren included, even after the worker itself is dead and
 * its children have been re-parented: `kill(-pgid)` still finds them. (A
 * process that starts its own session escapes the group; the tree walk in
 * shared/process-tree.ts catches those while the worker is alive.)
 */
export class GroupForksWorker extends ForksPoolWorker {
  override async start(): Promise<void> {
    const internals = this as unknown as { _fork?: ChildProcess }
    if (!internals._fork) {
      // Same options as Vitest's own fork, plus `detached`, which on POSIX only means "new process group".
      internals._fork = fork(this.entrypoint, [], {
        env: this.env,
        execArgv: this.execArgv,
        stdio: 'pipe',
        serialization: 'advanced',
        detached: true,
      })
    }
    const ours = internals._fork
    await super.start()
    if (internals._fork !== ours) {
      // A Vitest that forks unconditionally in start(): ours would be an orphan.
      ours.kill('SIGKILL')
      throw new Error('vitest-watchdog: this version of Vitest replaced the worker process the watchdog started (ForksPoolWorker internals changed); please report it.')
    }
  }

  get pid(): number | undefined {
    return (this as unknown as { _fork?: ChildProcess })._fork?.pid
  }
}
