import { fork, type ChildProcess } from 'node:child_process'
import { ForksPoolWorker, VmForksPoolWorker, type PoolOptions, type PoolWorker } from 'vitest/node'

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the mixin form TypeScript requires
type ForksLike = new (...args: any[]) => ForksPoolWorker

/**
 * Vitest's forks worker (or vmForks worker), started as the leader of its own
 * process group.
 *
 * Owning the group is what lets the kill stage reach every process a test
 * spawned, grandchildren included, even after the worker itself is dead and
 * its children have been re-parented: `kill(-pgid)` still finds them. (A
 * process that starts its own session escapes the group; the tree walk in
 * shared/process-tree.ts catches those while the worker is alive.)
 */
function groupLeader<Base extends ForksLike>(Base: Base) {
  return class extends Base {
    override async start(): Promise<void> {
      const self = this as unknown as { _fork?: ChildProcess; entrypoint: string; env: NodeJS.ProcessEnv; execArgv: string[] }
      if (!self._fork) {
        // Same options as Vitest's own fork, plus `detached`, which on POSIX only means "new process group".
        self._fork = fork(self.entrypoint, [], {
          env: self.env,
          execArgv: self.execArgv,
          stdio: 'pipe',
          serialization: 'advanced',
          detached: true,
        })
      }
      const ours = self._fork
      await super.start()
      if (self._fork !== ours) {
        // A Vitest that forks unconditionally in start(): ours would be an orphan.
        ours.kill('SIGKILL')
        throw new Error('vitest-watchdog: this version of Vitest replaced the worker process the watchdog started (ForksPoolWorker internals changed); please report it.')
      }
    }

    get pid(): number | undefined {
      return (this as unknown as { _fork?: ChildProcess })._fork?.pid
    }
  }
}

/** A pool worker whose process leads its own group; `pid` once started. */
export interface GroupLeaderWorker extends PoolWorker {
  readonly pid: number | undefined
}

export const GroupForksWorker: new (options: PoolOptions) => GroupLeaderWorker = groupLeader(ForksPoolWorker)
export const GroupVmForksWorker: new (options: PoolOptions) => GroupLeaderWorker = groupLeader(VmForksPoolWorker)
