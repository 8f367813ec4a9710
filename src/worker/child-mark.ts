import childProcess from 'node:child_process'
import { syncBuiltinESMExports } from 'node:module'
import { threadId } from 'node:worker_threads'
import { CHILD_MARK, childMark, type ChildWait } from '../shared/child-mark.js'

type AnyFn = (...args: any[]) => any

let installed = false

/**
 * Marks every child this worker spawns (shared/child-mark.ts). The
 * synchronous calls build their options before any shared code does, so each
 * of them is wrapped; every asynchronous one (spawn, exec, execFile, fork)
 * ends in ChildProcess.prototype.spawn, where the environment is already a
 * list of pairs.
 */
export function installChildMarks(): void {
  if (installed) return
  installed = true
  // Read now: a test may stub the global `process` later.
  const pid = process.pid
  const mark = (wait: ChildWait) => childMark(pid, threadId, wait)
  const withMark = (options: unknown): object => {
    const given = (options && typeof options === 'object' ? options : {}) as { env?: NodeJS.ProcessEnv }
    return { ...given, env: { ...(given.env ?? process.env), [CHILD_MARK]: mark('sync') } }
  }
  const module = childProcess as unknown as Record<string, AnyFn>
  // spawnSync(file, args?, options?), execFileSync(file, args?, options?), execSync(command, options?)
  for (const name of ['spawnSync', 'execFileSync'] as const) {
    const original = module[name]!
    module[name] = function (this: unknown, file: unknown, args?: unknown, options?: unknown) {
      return Array.isArray(args) ? original.call(this, file, args, withMark(options)) : original.call(this, file, withMark(args))
    }
  }
  const execSync = module.execSync!
  module.execSync = function (this: unknown, command: unknown, options?: unknown) {
    return execSync.call(this, command, withMark(options))
  }
  const proto = childProcess.ChildProcess.prototype as unknown as { spawn: AnyFn }
  const spawn = proto.spawn
  proto.spawn = function (this: unknown, options: { envPairs?: string[] }) {
    if (Array.isArray(options?.envPairs)) options.envPairs = [...options.envPairs.filter((pair) => !pair.startsWith(`${CHILD_MARK}=`)), `${CHILD_MARK}=${mark('async')}`]
    return spawn.call(this, options)
  }
  syncBuiltinESMExports()
}
