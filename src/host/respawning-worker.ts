import { EventEmitter } from 'node:events'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { ThreadsPoolWorker, VmThreadsPoolWorker, type PoolOptions, type PoolWorker, type WorkerRequest } from 'vitest/node'
import { BroadcastChannel } from 'node:worker_threads'
import { THREAD_KILL_CHANNEL, type KillRecord, type ThreadKillRequest } from '../shared/kill-log.js'
import { ENV_JOURNAL, ENV_KILL_LOG, ENV_RESUME, readJournalLines, type RecordedResult, type ResumePlan } from '../shared/resume.js'
import { CRASHED_CODE, STOPPED_CODE } from '../shared/report.js'
import { descendantsOf, killTree } from '../shared/process-tree.js'
import { GroupForksWorker, GroupVmForksWorker, type GroupLeaderWorker } from './group-forks-worker.js'
import { registerScratch, registerWorker, removeScratch, unregisterWorker } from './process-registry.js'

/** Vitest's pools, and the name each gets once the watchdog wraps it. */
export const POOL_NAMES = { forks: 'watchdog-forks', threads: 'watchdog-threads', vmForks: 'watchdog-vmForks', vmThreads: 'watchdog-vmThreads' } as const
export type Kind = keyof typeof POOL_NAMES

/**
 * Threads pool: how long terminating a stuck test thread may take. A thread
 * blocked in a system call ignores terminate() until the call returns (its
 * children were killed first to make it return); past this bound the
 * watchdog says so and resumes the file in a fresh thread without it.
 */
const THREAD_TERMINATE_BOUND_MS = 5_000

/**
 * A replacement worker gets this long to start and say "started". Vitest's
 * own start timeout is 90 s; a worker that restarts during a run should take
 * the same time as the first one did, so the bound only guards against a
 * worker that will never start.
 */
const RESTART_BOUND_MS = 60_000

interface Message {
  __vitest_worker_request__?: boolean
  __vitest_worker_response__?: boolean
  type?: string
}

interface Child {
  worker: GroupLeaderWorker | ThreadsPoolWorker | VmThreadsPoolWorker
  dir: string
  journal: string
  killLog: string
  /** Messages Vitest sent before this child started (a replacement is not started at once). */
  queue: WorkerRequest[] | null
  /** Threads pool: a thread left spinning because terminating it was unsafe. Never stopped. */
  abandoned?: boolean
}

/**
 * Vitest's forks worker, made to survive the death of its process.
 *
 * Vitest's pool talks to a worker only through this transport (start, send,
 * message, exit). This one keeps the `start` request and the current `run`
 * request; when the process dies in the middle of a run (the helper killed it
 * at stage `kill`, or the test crashed it), it starts a fresh process, replays
 * both with a resume plan built from the dead process's journal, and forwards
 * that process's messages as if nothing had happened. Vitest sees one worker
 * and one complete run of the file.
 */
export class RespawningWorker implements PoolWorker {
  readonly name: string
  readonly cacheFs: boolean
  private readonly events = new EventEmitter()
  private child: Child
  private startRequest: WorkerRequest | undefined
  private runRequest: WorkerRequest | undefined
  private stopping = false
  private readonly plan: ResumePlan = { finished: {}, failed: {}, failedSuites: {}, notRun: null }
  private resumes = 0
  private readonly killRequests: BroadcastChannel | null = null

  constructor(private readonly options: PoolOptions, private readonly kind: Kind) {
    this.name = POOL_NAMES[kind]
    // Vitest caches file reads for its process workers only; the same here.
    this.cacheFs = kind === 'forks' || kind === 'vmForks'
    this.child = this.createChild()
    if (kind === 'threads' || kind === 'vmThreads') {
      this.killRequests = new BroadcastChannel(THREAD_KILL_CHANNEL)
      this.killRequests.onmessage = (event) => void this.onKillRequest((event as { data: ThreadKillRequest }).data)
      // After onmessage: assigning it refs the channel again.
      this.killRequests.unref()
    }
  }

  /** Threads pool: a helper asks for its test thread to be killed (see worker/helper.ts). */
  private async onKillRequest(request: ThreadKillRequest): Promise<void> {
    const child = this.child
    if (threadIdOf(child) !== request.threadId) return
    for (const pid of request.pids) killTree(pid)
    if (!request.terminate) {
      // Abandoned, not terminated (see ThreadKillRequest): it must not keep the run alive.
      const thread = (child.worker as unknown as { _thread?: { unref(): void } })._thread
      thread?.unref()
      child.abandoned = true
      await this.onExit(child, 1, null)
      return
    }
    const terminated = await Promise.race([
      child.worker.stop().then(() => true, () => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), THREAD_TERMINATE_BOUND_MS).unref()),
    ])
    if (child !== this.child) return // Its 'exit' already resumed the file.
    if (!terminated) {
      const test = readKillRecord(child.killLog)?.test
      process.stderr.write(`vitest-watchdog: the worker thread running ${test ? `"${test.name}" (${test.file})` : 'a stopped test'} could not be stopped within ${THREAD_TERMINATE_BOUND_MS}ms: it is blocked in a system call that killing its child processes did not end. The rest of its file resumes in a fresh thread; the stuck thread ends with the run.\n`)
    }
    await this.onExit(child, 1, null)
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
      if (m.type === 'run' || m.type === 'collect') this.runRequest = message
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
    this.killRequests?.close()
    const child = this.child
    if (child.abandoned) {
      removeScratch(child.dir)
      return
    }
    const pid = pidOf(child)
    // Listed while the worker is alive: after it exits, its children are re-parented and only its group finds them.
    const spawned = pid ? descendantsOf(pid) : []
    try {
      await child.worker.stop()
    } finally {
      // Whatever the tests spawned and left running dies with the worker.
      if (pid) {
        killTree(pid, spawned)
        unregisterWorker(pid)
      }
      removeScratch(child.dir)
    }
  }

  /** A worker process with its own directory for journal, kill log and resume plan; removed with it. */
  private createChild(plan?: ResumePlan): Child {
    const dir = mkdtempSync(join(tmpdir(), 'vitest-watchdog-'))
    registerScratch(dir)
    const journal = join(dir, 'journal.jsonl')
    const killLog = join(dir, 'kill.jsonl')
    const env: Partial<NodeJS.ProcessEnv> = { ...this.options.env, [ENV_JOURNAL]: journal, [ENV_KILL_LOG]: killLog }
    if (plan) {
      const planFile = join(dir, 'resume.json')
      writeFileSync(planFile, JSON.stringify(plan))
      env[ENV_RESUME] = planFile
    } else {
      delete env[ENV_RESUME]
    }
    const options = { ...this.options, env }
    const worker = this.kind === 'forks'
      ? new GroupForksWorker(options)
      : this.kind === 'vmForks'
        ? new GroupVmForksWorker(options)
        : this.kind === 'threads' ? new ThreadsPoolWorker(options) : new VmThreadsPoolWorker(options)
    return { worker, dir, journal, killLog, queue: [] }
  }

  /**
   * Starts a child and forwards its events while it is the current one. A
   * replacement's own "started" answer is not forwarded: Vitest saw its
   * worker start already.
   */
  private async attach(child: Child, replacement = false): Promise<void> {
    await child.worker.start()
    const pid = pidOf(child)
    if (pid) registerWorker(pid, child.journal)
    child.worker.on('message', (message: unknown) => {
      const m = message as Message
      if (replacement && m?.__vitest_worker_response__ && m.type === 'started') return
      if (child === this.child) this.onMessage(message)
    })
    child.worker.on('error', (error: unknown) => {
      if (child === this.child) this.events.emit('error', error)
    })
    // Anything Vitest sent meanwhile (answers to the dead worker's calls, say) goes to this one now.
    const queued = child.queue ?? []
    child.queue = null
    if (!replacement) for (const message of queued) child.worker.send(message)
    // ForksPoolWorker passes the child process's own 'exit' arguments through.
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      if (pid) unregisterWorker(pid)
      if (child === this.child) void this.onExit(child, code, signal)
    }
    child.worker.on('exit', onExit as (arg: unknown) => void)
  }

  private onMessage(message: unknown): void {
    const m = message as Message
    if (m?.__vitest_worker_response__ && m.type === 'testfileFinished') this.runRequest = undefined
    this.events.emit('message', message)
  }

  private async onExit(child: Child, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    if (this.stopping || !this.runRequest || !this.startRequest) {
      if (!this.stopping && this.runRequest && !this.startRequest) {
        // Vitest's worker protocol changed (no "start" request seen): resuming cannot replay it.
        process.stderr.write('vitest-watchdog: cannot resume this file in a fresh worker: this Vitest version did not send the "start" request the watchdog expects (Vitest ^4.1 and ^5 do).\n')
      }
      this.events.emit('exit', code, signal)
      return
    }
    try {
      await this.resume(child, code, signal)
    } catch (error) {
      this.events.emit('error', error)
      this.events.emit('exit', code, signal)
    }
  }

  /** Starts a fresh process that picks the file up where the dead one left it. */
  private async resume(dead: Child, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    const { running, hooks } = readJournal(dead.journal, this.plan)
    const kill = readKillRecord(dead.killLog)
    const deadPid = pidOf(dead)
    if (deadPid) killTree(deadPid)
    if (running.length === 0 && hooks.length > 0) {
      // Inside a beforeAll/afterAll: that suite fails, the others run.
      for (const hook of hooks) {
        const result = kill ? killFailure(kill, this.options.project.config.root) : crashFailure(code, signal, { at: hook.at, killAfter: null }, `the ${hook.kind} hook of this suite`)
        this.plan.failedSuites[hook.id] = { kind: hook.kind, error: (result.errors as Array<Record<string, unknown>>)[0]! }
      }
    } else if (running.length === 0) {
      // Not inside a test: in a hook, the file's import, or the teardown.
      // Running again would die again, so the next worker only reports (no
      // hooks, no tests), and if even that dies, Vitest gets the exit.
      if (this.plan.notRun) throw new Error(`vitest-watchdog: the worker died again while only reporting the results of this file (${exitDescription(code, signal)}).`)
      this.plan.notRun = `The worker died outside any test (${exitDescription(code, signal)}): in a hook, the import of the file or its teardown. vitest-watchdog reported the tests that had finished; the others did not run.`
    }
    for (const test of running) this.plan.failed[test.id] = kill ? killFailure(kill, this.options.project.config.root) : crashFailure(code, signal, test)

    this.resumes++
    removeScratch(dead.dir)
    const child = this.createChild(this.plan)
    this.child = child
    // Replay "start" without telling Vitest (it saw its worker start already), then the run.
    await this.attach(child, true)
    const started = new Promise<void>((resolve, reject) => {
      const bound = setTimeout(() => reject(new Error(`vitest-watchdog: the replacement worker did not start within ${RESTART_BOUND_MS}ms`)), RESTART_BOUND_MS)
      bound.unref()
      const onMessage = (message: unknown) => {
        const m = message as Message
        if (m?.__vitest_worker_response__ && m.type === 'started') {
          clearTimeout(bound)
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

function pidOf(child: Child): number | undefined {
  return 'pid' in child.worker ? child.worker.pid : undefined
}

function threadIdOf(child: Child): number | undefined {
  return (child.worker as unknown as { _thread?: { threadId: number } })._thread?.threadId
}

/** Adds the finished tests to the plan; returns the tests that had started and not finished. */
function readJournal(file: string, plan: ResumePlan): { running: Array<{ id: string; at: number; killAfter: number | null }>; hooks: Array<{ id: string; at: number; kind: string }> } {
  const started = new Map<string, { id: string; at: number; killAfter: number | null }>()
  const hooks = new Map<string, { id: string; at: number; kind: string }>()
  if (!existsSync(file)) return { running: [], hooks: [] }
  for (const entry of readJournalLines(readFileSync(file, 'utf8'))) {
    if ('start' in entry) started.set(entry.start, { id: entry.start, at: entry.at, killAfter: entry.killAfter })
    else if ('end' in entry) {
      started.delete(entry.end)
      plan.finished[entry.end] = entry.result as RecordedResult
    } else if ('hook' in entry) hooks.set(entry.hook, { id: entry.hook, at: entry.at, kind: entry.kind })
    else hooks.delete(entry.hookEnd)
  }
  return {
    running: [...started.values()].filter(({ id }) => !plan.finished[id] && !plan.failed[id]),
    hooks: [...hooks.values()].filter(({ id }) => !plan.failedSuites[id]),
  }
}

function readKillRecord(file: string): KillRecord | null {
  if (!existsSync(file)) return null
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean)
  try {
    return lines.length ? (JSON.parse(lines[lines.length - 1]!) as KillRecord) : null
  } catch {
    return null
  }
}

function exitDescription(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `killed by ${signal}` : `exit code ${code}`
}

function killFailure(kill: KillRecord, root: string): RecordedResult {
  const elapsedMs = kill.test ? Math.round(kill.at - kill.test.startedAt) : 0
  const killAfter = kill.test?.killAfter ?? 0
  const where = kill.location ? ` It was stuck at ${relative(root, kill.location.file)}:${kill.location.line}:${kill.location.column}.` : ''
  const message = `${kill.test?.subject ?? 'Test'} stopped by vitest-watchdog at stage "kill" after ${elapsedMs}ms (killAfter ${killAfter}ms, from ${kill.test?.budgetSource ?? 'its budget'}).${where} ${kill.reason} The rest of the file ran in a fresh worker.`
  return failure({ name: 'TestStoppedError', code: STOPPED_CODE, subject: kill.test?.subject ?? 'Test', message, stack: `TestStoppedError: ${message}\n${kill.stack}`, stage: 'kill', elapsedMs, killAfter, location: kill.location }, elapsedMs)
}

function crashFailure(code: number | null, signal: NodeJS.Signals | null, test: { at: number; killAfter: number | null }, during = 'this test'): RecordedResult {
  const elapsedMs = Math.max(0, Date.now() - test.at)
  const message = `The worker process died during ${during} (${exitDescription(code, signal)}) after ${elapsedMs}ms. vitest-watchdog ran the rest of the file in a fresh worker.`
  return failure({ name: 'WorkerCrashError', code: CRASHED_CODE, message, stack: `WorkerCrashError: ${message}`, exitCode: code, signal, stage: 'kill', elapsedMs, killAfter: test.killAfter ?? 0, location: null }, elapsedMs)
}

function failure(error: Record<string, unknown>, duration: number): RecordedResult {
  return { state: 'fail', errors: [error], duration, retryCount: 0, repeatCount: 0 }
}
