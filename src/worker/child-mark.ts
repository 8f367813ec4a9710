import type { ChildProcess } from 'node:child_process'
import { CHILD_MARK, childMark, type ChildWait } from '../shared/child-mark.js'
import { append } from './journal.js'
import { ArrayIsArray, ArrayPrototypeFilter, ArrayPrototypePush, ReflectApply, StringPrototypeStartsWith } from '../shared/intrinsics.js'

type AnyFn = (...args: any[]) => any

// Captured at load, as a test may stub `process`: node:worker_threads is loaded at the first child only.
const getBuiltinModule = process.getBuiltinModule

let installed = false

/**
 * Marks every child this worker spawns (shared/child-mark.ts). The
 * synchronous calls build their options before any shared code does, so each
 * of them is wrapped; every asynchronous one (spawn, exec, execFile, fork)
 * ends in ChildProcess.prototype.spawn, where the environment is already a
 * list of pairs. The caller makes ESM imports see the wrapped functions
 * (syncBuiltinESMExports, once for every patch of the worker).
 */
export function installChildMarks(): void {
  if (installed) return
  installed = true
  // Read now: a test may redefine process.pid or stub the global `process` later.
  const pid = process.pid
  let threadId: number | undefined
  let announced = false
  const mark = (wait: ChildWait) => {
    // On disk before the child exists: the main process searches for marked children only after a worker said it spawned one.
    if (!announced) {
      announced = true
      append({ kind: 'spawn' }, true)
    }
    return childMark(pid, (threadId ??= getBuiltinModule('node:worker_threads').threadId), wait)
  }
  const withMark = (options: unknown): object => {
    const given = (options && typeof options === 'object' ? options : {}) as { env?: NodeJS.ProcessEnv }
    return { ...given, env: { ...(given.env ?? process.env), [CHILD_MARK]: mark('sync') } }
  }
  const childProcess = getBuiltinModule('node:child_process')
  const module = childProcess as unknown as Record<string, AnyFn>
  // spawnSync(file, args?, options?), execFileSync(file, args?, options?), execSync(command, options?)
  for (const name of ['spawnSync', 'execFileSync'] as const) {
    const original = module[name]!
    module[name] = function (this: unknown, file: unknown, args?: unknown, options?: unknown) {
      return ArrayIsArray(args) ? ReflectApply(original, this, [file, args, withMark(options)]) : ReflectApply(original, this, [file, withMark(args)])
    }
  }
  const execSync = module.execSync!
  module.execSync = function (this: unknown, command: unknown, options?: unknown) {
    return ReflectApply(execSync, this, [command, withMark(options)])
  }
  const proto = (childProcess.ChildProcess as typeof ChildProcess).prototype as unknown as { spawn: AnyFn }
  const spawn = proto.spawn
  proto.spawn = function (this: unknown, options: { envPairs?: string[] }) {
    if (ArrayIsArray(options?.envPairs)) {
      const pairs = ArrayPrototypeFilter(options.envPairs, (pair) => !StringPrototypeStartsWith(pair, `${CHILD_MARK}=`))
      ArrayPrototypePush(pairs, `${CHILD_MARK}=${mark('async')}`)
      options.envPairs = pairs
    }
    return ReflectApply(spawn, this, [options])
  }
}
