/**
 * Wraps the Node APIs that create long-lived resources, so each one can be
 * traced back to the test that created it. Installed once per worker, before
 * test files are imported; the caller makes ESM imports of node: modules
 * see the wrapped functions (syncBuiltinESMExports(), once for every patch).
 * The modules are taken as CommonJS objects (getBuiltinModule): an ESM
 * import would build each one's ESM view now, running its lazy getters.
 */
import type * as childProcess from 'node:child_process'
import type * as fs from 'node:fs'
import type * as net from 'node:net'
import type * as workerThreads from 'node:worker_threads'
import { forget, track, type Tracked } from './registry.js'
import { ReflectApply } from '../../shared/intrinsics.js'

type AnyFn = (...args: any[]) => any

const TRACKED = Symbol('vitest-watchdog.tracked')

interface NodeTimer {
  _destroyed?: boolean
  [TRACKED]?: Tracked | null
}

const VITEST_LEAVES = 'left to Vitest: it ends when the worker exits after the file'
/**
 * Not at the file's end: with isolate: false the worker runs on, and code
 * there (a pool library) would react to its processes dying. The pool
 * worker kills what the worker spawned when it stops it.
 */
const CHILD_CLEANUP = 'killed (with its descendants) when its worker stops: after its file, or with isolate: false when Vitest stops the worker'

let installed = false

export function installLeakTracking(): void {
  if (installed) return
  installed = true
  const load = process.getBuiltinModule
  patchTimers(load('node:timers'))
  patchNet(load('node:net'))
  patchChildProcess(load('node:child_process'))
  patchWorker(load('node:worker_threads'))
  patchFs(load('node:fs'))
}

function patchTimers(timers: object): void {
  const make = (type: 'Timeout' | 'Interval' | 'Immediate', original: AnyFn) =>
    function (this: unknown, ...args: unknown[]) {
      const timer = ReflectApply(original, this, args) as NodeTimer
      // Node marks a timer destroyed when it has fired (once) or was cleared.
      if (timer && typeof timer === 'object') timer[TRACKED] = track(type, () => timer._destroyed !== true, VITEST_LEAVES)
      return timer
    }
  const wrapped = {
    setTimeout: make('Timeout', globalThis.setTimeout),
    setInterval: make('Interval', globalThis.setInterval),
    setImmediate: make('Immediate', globalThis.setImmediate),
  }
  for (const [name, fn] of Object.entries(wrapped)) {
    // Keep util.promisify(setTimeout) and friends working.
    const original = (globalThis as unknown as Record<string, AnyFn>)[name]!
    Object.defineProperties(fn, Object.getOwnPropertyDescriptors(original))
    ;(globalThis as unknown as Record<string, AnyFn>)[name] = fn
    ;(timers as unknown as Record<string, AnyFn>)[name] = fn
  }
}

function patchNet(netApi: typeof net): void {
  const listen = netApi.Server.prototype.listen
  netApi.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
    const server = this as net.Server & NodeTimer & { _connections?: number }
    forget(server[TRACKED])
    // close() drops the listening handle at once; Node emits 'close' only when
    // _connections, its count of open connections, is back to 0. Until then
    // the server is closing. (Without that field, a closed server is done.)
    const connections = () => server._connections ?? 0
    // listen() with a host name binds after a DNS lookup: a test that ends
    // before then leaves a server that is not listening *yet*. It counts as
    // alive until it listens, fails or closes (seen through its own emit, so
    // no 'error' listener of ours changes what an unhandled error does).
    let starting = true
    const emit = server.emit
    server.emit = function (this: net.Server, event: string | symbol, ...rest: unknown[]) {
      if (event === 'listening' || event === 'error' || event === 'close') starting = false
      return ReflectApply(emit as AnyFn, this, [event, ...rest]) as boolean
    }
    server[TRACKED] = track('Server', () => starting || server.listening || connections() > 0, 'closed by Vitest when the worker exits; close it in afterEach', () => !starting && !server.listening && connections() > 0)
    return ReflectApply(listen as AnyFn, this, args)
  } as typeof listen
  const connect = netApi.Socket.prototype.connect
  netApi.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    const socket = this
    // destroy() sets destroyed at once (done); end() sets writableEnded, and the
    // socket closes once the peer's FIN is in: closing until then.
    if (!(socket as NodeTimer)[TRACKED]) (socket as NodeTimer)[TRACKED] = track('Socket', () => !socket.destroyed, VITEST_LEAVES, () => socket.writableEnded)
    return ReflectApply(connect as AnyFn, this, args)
  } as typeof connect
}

function patchChildProcess(childProcessApi: typeof childProcess): void {
  // exec, execFile, fork and spawn all end in ChildProcess.prototype.spawn: one place sees every child.
  const proto = childProcessApi.ChildProcess.prototype as unknown as { spawn: AnyFn }
  const spawn = proto.spawn
  proto.spawn = function (this: childProcess.ChildProcess, ...args: unknown[]) {
    const result = ReflectApply(spawn, this, args)
    const child = this
    if (child.pid) {
      const running = () => child.exitCode === null && child.signalCode === null
      // Closing: Node sets child.killed once kill() delivered a signal (even
      // kill(0), a mere probe: that costs the bound, then it is reported).
      track('ChildProcess', running, CHILD_CLEANUP, () => child.killed)
    }
    return result
  }
}

function patchWorker(workerThreadsApi: typeof workerThreads): void {
  const Original = workerThreadsApi.Worker
  class TrackedWorker extends Original {
    // Node records a terminate() nowhere public (threadId stays until 'exit'),
    // so the override notes it: the thread is closing from then on.
    #terminating = false

    constructor(...args: ConstructorParameters<typeof Original>) {
      super(...args)
      let exited = false
      this.once('exit', () => (exited = true))
      track('Worker', () => !exited, VITEST_LEAVES, () => this.#terminating)
    }

    override terminate(): Promise<number> {
      this.#terminating = true
      return super.terminate()
    }
  }
  ;(workerThreadsApi as { Worker: typeof Original }).Worker = TrackedWorker
}

function patchFs(fsApi: typeof fs): void {
  const watch = fsApi.watch
  ;(fsApi as { watch: AnyFn }).watch = function (this: unknown, ...args: unknown[]) {
    const watcher = ReflectApply(watch as AnyFn, this, args) as fs.FSWatcher
    // close() releases the handle synchronously but emits 'close' on a later
    // tick: the watcher is done at close(), nothing to wait for. Node records
    // that only in private state (and not the same in the recursive watcher).
    let closed = false
    watcher.once('close', () => (closed = true))
    const close = watcher.close.bind(watcher)
    watcher.close = () => {
      closed = true
      close()
    }
    track('FSWatcher', () => !closed, VITEST_LEAVES)
    return watcher
  }
  const open = fsApi.promises.open
  ;(fsApi.promises as { open: AnyFn }).open = async function (this: unknown, ...args: unknown[]) {
    const handle = await ReflectApply(open as AnyFn, this, args) as fs.promises.FileHandle
    // close() sets fd to -1 at once, unless an operation is in flight: then the
    // close waits for it, and Node records that only under a private symbol.
    let closing = false
    const close = handle.close.bind(handle)
    handle.close = () => {
      closing = true
      return close()
    }
    track('FileHandle', () => handle.fd !== -1, VITEST_LEAVES, () => closing)
    return handle
  }
}
