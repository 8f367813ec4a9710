import { EventEmitter } from 'node:events'
import { ThreadsPoolWorker, VmThreadsPoolWorker, type PoolOptions, type PoolWorker, type WorkerRequest } from 'vitest/node'
import { realClearTimeout, unrefTimer } from '../shared/clock.js'
import { WatchdogResumeError, WatchdogThreadNotTerminatedError } from '../shared/errors.js'
import type { ResumePlan, RunLine } from '../shared/journal.js'
import { oneLine } from '../shared/one-line.js'
import { descendantsOf, killTree } from '../shared/process-tree.js'
import { POOL_NAMES, type Kind } from '../shared/pools.js'
import type { Stop } from '../shared/stop.js'
import { GroupForksWorker, GroupVmForksWorker, type GroupLeaderWorker } from './group-forks-worker.js'
import { InspectorOutput } from './ladder/inspector-output.js'
import { ProcessTarget, ThreadTarget } from './ladder/targets.js'
import { WorkerWatch } from './ladder/watch.js'
import { registerWorker, removeScratch, unregisterWorker } from './process-registry.js'
import { emptyPlan, recordDeath, withoutFiles, type Death } from './resume-plan.js'
import { stopThread, THREAD_TERMINATE_BOUND_MS, threadIdOf, threadOf } from './thread-stop.js'
import { watchThread } from './stuck-threads.js'
import { closeScratch, createScratch, journalSize, readJournal, writeNote, writePlan, type Scratch } from './worker-scratch.js'

/**
 * A replacement worker gets this long to start and say "started". Vitest's
 * own start timeout is 90 s; a worker that restarts during a run should take
 * the same time as the first one did, so the bound only guards against a
 * worker that will never start.
 */
const RESTART_BOUND_MS = 60_000

/**
 * What a worker process is started with so that the main process can open
 * its inspector during a stop: no port is bound until SIGUSR1, and the URL
 * (with its random UUID) goes to stderr only, where the main process reads it.
 */
const HOST_INSPECTOR_ARGS = ['--inspect-port=0', '--inspect-publish-uid=stderr']

interface Message {
  __vitest_worker_request__?: boolean
  __vitest_worker_response__?: boolean
  type?: string
}

type AnyWorker = GroupLeaderWorker | ThreadsPoolWorker | VmThreadsPoolWorker

interface Child extends Scratch {
  worker: AnyWorker
  /** Forks: its stderr, with the inspector's own lines taken out. */
  output: InspectorOutput | null
  watch: WorkerWatch | null
  /** Messages Vitest sent before this child started (a replacement is not started at once). */
  queue: WorkerRequest[] | null
  /** Where the current run request's lines start in its journal: a death is read from there on. */
  journalFrom: number
  /** Set when the watchdog killed it: what it stopped. */
  stopped?: { stop: Stop; run: RunLine }
  /** Threads pool: a thread left behind (stuck-threads.ts), spinning where terminating it was unsafe or blocked in a system call. Never stopped. */
  abandoned?: boolean
  /** A replacement forked ahead of its resume (prepareReplacement): its attach, which resume() awaits. */
  starting?: Promise<void>
  /** Its 'exit' came (before it became the current child, for a replacement forked ahead). */
  exited?: boolean
}

/**
 * Vitest's pool worker (forks, vmForks, threads, vmThreads), made to survive
 * the death of its process or thread, and watched by the ladder.
 *
 * Vitest's pool talks to a worker only through this transport (start, send,
 * message, exit). This one keeps the `start` request and the current `run`
 * request; when the worker dies in the middle of a run (stage kill, or a
 * crash), it starts a fresh one, replays both with a resume plan built from
 * the dead one's journal, and forwards the new one's messages as if nothing
 * had happened. Vitest sees one worker and one complete run of the file.
 */
export class RespawningWorker implements PoolWorker {
  readonly name: string
  readonly cacheFs: boolean
  private readonly events = new EventEmitter()
  private child: Child
  /** The replacement forked when the current child was killed, not yet resumed into. */
  private next: Child | null = null
  private startRequest: WorkerRequest | undefined
  private runRequest: WorkerRequest | undefined
  private stopping = false
  /** The resume plan of the current run request; a new request (the next file, a rerun in watch mode) starts a new one. */
  private plan: ResumePlan = emptyPlan()
  private readonly isProcess: boolean
  /** Forks started with the inspector flags: not when a user's --inspect owns the inspector. */
  private readonly hostInspector: boolean

  constructor(private readonly options: PoolOptions, private readonly kind: Kind) {
    this.name = POOL_NAMES[kind]
    this.isProcess = kind === 'forks' || kind === 'vmForks'
    // Vitest caches file reads for its process workers only; the same here.
    this.cacheFs = this.isProcess
    const inspector = (options.project.config as { inspector?: { enabled?: boolean } }).inspector
    this.hostInspector = this.isProcess && !inspector?.enabled && !options.execArgv.some((arg) => arg.startsWith('--inspect'))
    this.child = this.createChild()
  }

  on(event: string, callback: (arg: any) => void): void {
    this.events.on(event, callback)
  }

  off(event: string, callback: (arg: any) => void): void {
    this.events.off(event, callback)
  }

  send(message: WorkerRequest): void {
    const m = message as Message
    if (m.__vitest_worker_request__) {
      if (m.type === 'start') this.startRequest = message
      if (m.type === 'run' || m.type === 'collect') {
        this.runRequest = message
        // With isolate: false a worker runs file after file (and reruns, in
        // watch mode): what an earlier request recorded is not this one's.
        this.plan = emptyPlan()
        this.child.journalFrom = journalSize(this.child)
      }
    }
    if (this.child.queue) this.child.queue.push(message)
    else this.child.worker.send(message)
  }

  deserialize(data: unknown): unknown {
    return data
  }

  async start(): Promise<void> {
    await this.attach(this.child)
  }

  async stop(): Promise<void> {
    this.stopping = true
    const next = this.next
    this.next = null
    await Promise.all([this.stopChild(this.child), next && this.stopChild(next)])
  }

  private async stopChild(child: Child): Promise<void> {
    if (child.abandoned) {
      child.watch?.dispose()
      closeScratch(child)
      removeScratch(child.dir)
      return
    }
    const pid = pidOf(child)
    // Listed while the worker is alive: after it exits, its children are
    // re-parented and only its group (or, for a thread, its mark) finds them.
    // The process table is searched for the worker's marks only if its journal says it spawned a child.
    const marked = () => child.watch?.mayHaveMarkedChildren() ?? true
    const spawned = pid ? descendantsOf(pid) : marked() ? (child.watch?.target.ownChildren(Date.now()) ?? []) : []
    try {
      await child.worker.stop()
    } finally {
      // A thread's children by mark, listed again now that it stopped: code
      // still running until then (a pool respawning its processes) may have
      // spawned more since the first listing.
      const searchMarks = marked()
      if (!pid && searchMarks) spawned.push(...(child.watch?.target.ownChildren(Date.now()) ?? []))
      child.watch?.dispose()
      // Whatever the tests spawned and left running dies with the worker.
      if (pid) {
        killTree(pid, spawned, searchMarks)
        unregisterWorker(pid)
      } else for (const childPid of new Set(spawned)) killTree(childPid)
      closeScratch(child)
      removeScratch(child.dir)
    }
  }

  /** A worker with its own directory for journal and resume plan (`resume`: a replacement's, written by resume()); removed with it. */
  private createChild(resume = false): Child {
    const scratch = createScratch(this.options.env, resume)
    const { env } = scratch
    const execArgv = this.hostInspector ? [...this.options.execArgv, ...HOST_INSPECTOR_ARGS] : this.options.execArgv
    const options = { ...this.options, env, execArgv }
    const worker: AnyWorker = this.kind === 'forks'
      ? new GroupForksWorker(options)
      : this.kind === 'vmForks'
        ? new GroupVmForksWorker(options)
        : this.kind === 'threads' ? new ThreadsPoolWorker(options) : new VmThreadsPoolWorker(options)
    let output: InspectorOutput | null = null
    if (this.hostInspector) {
      // ForksPoolWorker pipes the process's stderr into this stream when it starts.
      const forks = worker as unknown as { stderr: NodeJS.WritableStream }
      output = new InspectorOutput(forks.stderr)
      forks.stderr = output
    }
    return { ...scratch, worker, journalFrom: 0, output, watch: null, queue: [] }
  }

  /**
   * Starts a child, watches it, and forwards its events while it is the
   * current one. A replacement's own "started" answer is not forwarded:
   * Vitest saw its worker start already.
   */
  private async attach(child: Child, replacement = false): Promise<void> {
    await child.worker.start()
    const pid = pidOf(child)
    if (pid) registerWorker(pid, child.journal, this.options.project.name)
    child.watch = this.watch(child)
    child.worker.on('message', (message: unknown) => {
      if (replacement && isResponse(message, 'started')) return
      if (child === this.child) this.onMessage(message)
    })
    child.worker.on('error', (error: unknown) => {
      // A message sent to a worker as it dies (killed by the ladder, or
      // crashed) fails with EPIPE: its exit, not this error, decides what
      // Vitest hears (the file resumes, or the crash is reported).
      if (child.stopped || isChannelGone(error)) return
      if (child === this.child) this.events.emit('error', error)
    })
    // What Vitest sent while a first worker was starting goes to it now. A
    // replacement gets none of it: those were answers to the dead worker's
    // calls, and resume() replays the requests it needs.
    const queued = child.queue ?? []
    child.queue = null
    if (!replacement) for (const message of queued) child.worker.send(message)
    // ForksPoolWorker passes the child process's own 'exit' arguments through.
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      child.exited = true
      child.watch?.dispose()
      if (pid) unregisterWorker(pid)
      if (child === this.child) void this.onExit(child, code, signal)
    }
    child.worker.on('exit', onExit as (arg: unknown) => void)
  }

  private watch(child: Child): WorkerWatch | null {
    const pid = pidOf(child)
    if (!pid) watchThread(threadOf(child.worker as ThreadsPoolWorker))
    const threadId = pid ? undefined : threadIdOf(child.worker as ThreadsPoolWorker)
    const target = child.output && pid ? new ProcessTarget(pid, child.output) : threadId !== undefined ? new ThreadTarget(threadId) : null
    if (!target) return null
    const logger = this.options.project.vitest.logger
    return new WorkerWatch(child.journal, target, {
      root: this.options.project.config.root,
      note: (note) => writeNote(child, note),
      log: (message) => logger.errorStream.write(`${this.withProject(message)}\n`),
      kill: (stop, run, abandon) => void this.kill(child, stop, run, abandon),
    })
  }

  /** With several projects in the run, a line of the ladder's names its project, as the report does. */
  private withProject(message: string): string {
    const { project } = this.options
    if (project.vitest.projects.length < 2 || !project.name) return message
    return message.replace(/^vitest-watchdog: /, `vitest-watchdog: [${oneLine(project.name)}] `)
  }

  /** Stage kill, for the run `run` of `child`; the file then resumes in a fresh worker (onExit). */
  private async kill(child: Child, stop: Stop, run: RunLine, abandon: boolean): Promise<void> {
    if (child !== this.child || this.stopping) return
    child.stopped = { stop, run }
    const pid = pidOf(child)
    if (pid) {
      // The replacement first: it boots while this tree is walked and killed
      // (it leads a group of its own and carries no mark of this worker's).
      this.prepareReplacement()
      // Its process group, every descendant, itself: 'exit' follows.
      try {
        killTree(pid)
      } catch {
        // The process table could not be read: the group and the worker still go.
        for (const target of [-pid, pid]) trySigkill(target)
      }
      return
    }
    // Threads: the thread's own children go first, and no other thread's.
    let children: number[] = []
    try {
      children = child.watch?.target.ownChildren(run.at) ?? []
    } catch {
      // The process table could not be read: the thread is stopped all the same.
    }
    const outcome = await stopThread(child.worker as ThreadsPoolWorker, children, abandon, oneLine(`"${run.name}" in ${run.file}`))
    if (outcome !== 'terminated') child.abandoned = true
    else if (child !== this.child) return // Its 'exit' already resumed the file.
    if (outcome === 'not-terminated') {
      this.options.project.vitest.logger.errorStream.write(`${new WatchdogThreadNotTerminatedError(run.name, run.file, THREAD_TERMINATE_BOUND_MS).message}\n`)
    }
    await this.onExit(child, 1, null)
  }

  private onMessage(message: unknown): void {
    if (isResponse(message, 'testfileFinished')) this.runRequest = undefined
    this.events.emit('message', message)
  }

  private async onExit(child: Child, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    if (child !== this.child) return
    if (this.stopping || !this.runRequest || !this.startRequest) {
      this.discardNext()
      if (!this.stopping && this.runRequest && !this.startRequest) {
        // Vitest's worker protocol changed (no "start" request seen): resuming cannot replay it.
        process.stderr.write(`${new WatchdogResumeError('this Vitest version did not send the "start" request the watchdog expects (Vitest ^4.1 and ^5 do)').message}\n`)
      }
      this.events.emit('exit', code, signal)
      return
    }
    try {
      await this.resume(child, { ...(child.stopped ? { stop: child.stopped } : {}), code, signal })
    } catch (error) {
      this.discardNext()
      this.events.emit('error', error)
      this.events.emit('exit', code, signal)
    }
  }

  /**
   * Forks the replacement of a worker just killed, without waiting for its
   * 'exit': it boots while the dead one is reaped and its journal read. Its
   * resume plan is written before it is sent any request (resume()).
   */
  private prepareReplacement(): void {
    if (this.next || this.stopping || !this.runRequest || !this.startRequest) return
    let child: Child
    try {
      child = this.createChild(true)
    } catch {
      return // resume() tries again, and reports what fails.
    }
    child.starting = this.attach(child, true)
    child.starting.catch(() => {}) // Awaited, and reported, by resume().
    this.next = child
  }

  /** A replacement forked ahead that no resume will take. */
  private discardNext(): void {
    const next = this.next
    this.next = null
    if (next) void this.stopChild(next).catch(() => {})
  }

  /** Starts a fresh worker (or takes the one forked at the kill) that picks the file up where the dead one left it. */
  private async resume(dead: Child, death: Death): Promise<void> {
    const deadPid = pidOf(dead)
    if (deadPid) killTree(deadPid)
    try {
      const finished = recordDeath(this.plan, deadJournal(dead), death, this.options.project.config.root)
      this.runRequest = withoutFiles(this.runRequest!, finished)
    } finally {
      closeScratch(dead)
      removeScratch(dead.dir)
    }

    const prepared = this.next
    this.next = null
    // One that died before it was needed is stopped, and another is started.
    if (prepared?.exited) void this.stopChild(prepared).catch(() => {})
    const child = prepared && !prepared.exited ? prepared : this.createChild(true)
    try {
      writePlan(child, this.plan)
    } catch (error) {
      void this.stopChild(child).catch(() => {})
      throw error
    }
    this.child = child
    // Replay "start" without telling Vitest (it saw its worker start already), then the run.
    await (child.starting ?? this.attach(child, true))
    const started = new Promise<void>((resolve, reject) => {
      const bound = unrefTimer(() => reject(new WatchdogResumeError(`the replacement worker did not start within ${RESTART_BOUND_MS}ms`)), RESTART_BOUND_MS)
      const onMessage = (message: unknown) => {
        if (isResponse(message, 'started')) {
          realClearTimeout(bound)
          child.worker.off('message', onMessage)
          resolve()
        }
      }
      child.worker.on('message', onMessage)
    })
    child.worker.send(this.startRequest!)
    await started
    child.worker.send(this.runRequest!)
  }
}

/** A worker's answer of this type in Vitest's worker protocol. */
function isResponse(message: unknown, type: string): boolean {
  const m = message as Message | undefined
  return !!m?.__vitest_worker_response__ && m.type === type
}

function trySigkill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // Already gone.
  }
}

/** The dead worker's journal since the current run request: '' when it cannot be read (died before its first line). */
function deadJournal(dead: Child): string {
  try {
    return readJournal(dead, dead.journalFrom)
  } catch {
    return ''
  }
}

function pidOf(child: Child): number | undefined {
  return 'pid' in child.worker ? child.worker.pid : undefined
}

/** The error of a send to a worker process whose end of the channel is gone. */
function isChannelGone(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return code === 'EPIPE' || code === 'ERR_IPC_CHANNEL_CLOSED'
}
