// Loaded into every Node process of a timeline run (NODE_OPTIONS=--import):
// stamps what each process does on one clock (ms since the epoch) and writes
// them to $TIMELINE_DIR/<pid>.json at exit. See timeline.mjs.
import childProcess from 'node:child_process'
import fs from 'node:fs'
import { syncBuiltinESMExports } from 'node:module'
import { join } from 'node:path'

const dir = process.env.TIMELINE_DIR
const now = () => performance.timeOrigin + performance.now()
const events = []
const mark = (what, detail) => events.push([now(), what, detail ?? null])
const role = process.argv.some((a) => a.endsWith('vitest.mjs')) ? 'main' : typeof process.send === 'function' ? 'worker' : 'other'

/** What a Vitest IPC message is: a pool request or response by type, or a birpc call by method. */
function kindOf(message) {
  if (!message || typeof message !== 'object') return null
  if (message.__vitest_worker_request__) return `request:${message.type}`
  if (message.__vitest_worker_response__) return `response:${message.type}`
  if (message.t === 'q' || message.type === 'q') return `rpc-call:${message.m}#${message.i}`
  if (message.t === 's' || message.type === 's') return `rpc-reply:#${message.i}`
  return 'message'
}

if (dir && role !== 'other') {
  mark('preload')
  const nodeTiming = performance.nodeTiming
  if (role === 'main') {
    // Every worker process: when it was forked, what it was sent and what it answered.
    const fork = childProcess.fork
    childProcess.fork = function (...args) {
      const child = fork.apply(this, args)
      const pid = child.pid
      mark('fork', { pid })
      const send = child.send
      child.send = function (message, ...rest) {
        const kind = kindOf(message)
        if (kind) mark('to-worker', { pid, kind })
        return send.call(this, message, ...rest)
      }
      child.on('message', (message) => {
        const kind = kindOf(message)
        if (kind) mark('from-worker', { pid, kind })
      })
      child.on('exit', () => mark('worker-exit', { pid }))
      return child
    }
    syncBuiltinESMExports()
  } else {
    // Seen as emitted: a listener of our own would start reading the channel
    // before Vitest listens, and the messages it reads then would be lost.
    const emit = process.emit
    process.emit = function (event, message, ...rest) {
      if (event === 'message') {
        const kind = kindOf(message)
        if (kind) mark('received', kind)
      }
      return emit.call(this, event, message, ...rest)
    }
    const send = process.send
    process.send = function (message, ...rest) {
      const kind = kindOf(message)
      if (kind) mark('sent', kind)
      // Vitest may end a worker with a signal, before any exit handler runs.
      if (kind?.startsWith('response:')) save()
      return send.call(this, message, ...rest)
    }
    const openSync = fs.openSync
    fs.openSync = function (path, ...rest) {
      if (typeof path === 'string' && /vitest-watchdog-.*\/(journal|notes)\.jsonl$/.test(path)) mark('open', path.replace(/.*\//, ''))
      return openSync.call(this, path, ...rest)
    }
    syncBuiltinESMExports()
  }
  // Test files call this (their own import, each test's start and end), and
  // a stamp added by hand to the watchdog's code while profiling.
  globalThis.__timeline = mark
  const writeFileSync = fs.writeFileSync
  function save() {
    const record = { pid: process.pid, role, origin: performance.timeOrigin, bootstrapComplete: performance.timeOrigin + nodeTiming.bootstrapComplete, events }
    writeFileSync(join(dir, `${process.pid}.json`), JSON.stringify(record))
  }
  // A test about to be killed with its worker saves what it has so far.
  globalThis.__timelineSave = save
  process.on('exit', () => {
    mark('exit')
    save()
  })
}
