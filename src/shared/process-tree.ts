import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { CHILD_MARK } from './child-mark.js'

/** Parent pid of every process we can see. /proc on Linux (no spawn), `ps` elsewhere. */
function parentTable(): Map<number, number> {
  const table = new Map<number, number>()
  try {
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue
      // Gone while we were reading: it has no descendants to kill.
      const fields = statFields(Number(name))
      if (fields) table.set(Number(name), Number(fields[1]))
    }
    if (table.size > 0) return table
  } catch {
    // No /proc: fall through to ps.
  }
  const out = execFileSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8', timeout: 5_000 })
  for (const line of out.split('\n')) {
    const [pid, ppid] = line.trim().split(/\s+/).map(Number)
    if (pid && ppid !== undefined && !Number.isNaN(ppid)) table.set(pid, ppid)
  }
  return table
}

/** Whether the kernel lists each thread's children (/proc/<pid>/task/<tid>/children, CONFIG_PROC_CHILDREN); read once. */
let childrenFiles: boolean | undefined
const kernelListsChildren = (): boolean => (childrenFiles ??= existsSync(`/proc/self/task/${process.pid}/children`))

/**
 * The direct children of `pid`, from its threads' `children` files: a few
 * reads, where the parent table reads every process. [] for a process that
 * is gone (its children were given to another parent when it died); null
 * where the kernel has no such files.
 */
function childrenOf(pid: number): number[] | null {
  if (!kernelListsChildren()) return null
  let tasks: string[]
  try {
    tasks = readdirSync(`/proc/${pid}/task`)
  } catch {
    return []
  }
  const found: number[] = []
  for (const task of tasks) {
    try {
      for (const child of readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ')) if (child) found.push(Number(child))
    } catch {
      // The thread ended: its children went to another thread of the process.
    }
  }
  return found
}

/** Every descendant of `root`, grandchildren included, deepest last. */
export function descendantsOf(root: number): number[] {
  // The kernel's children files where it has them; otherwise one read of the whole parent table.
  let children = (pid: number): number[] => childrenOf(pid) ?? []
  if (!kernelListsChildren()) {
    const table = new Map<number, number[]>()
    for (const [pid, ppid] of parentTable()) {
      const list = table.get(ppid)
      if (list) list.push(pid)
      else table.set(ppid, [pid])
    }
    children = (pid) => table.get(pid) ?? []
  }
  const found: number[] = []
  const queue = [root]
  while (queue.length > 0) {
    const next = children(queue.shift()!)
    found.push(...next)
    queue.push(...next)
  }
  return found
}

function trySignal(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal)
  } catch {
    // Already gone.
  }
}

/**
 * Kills a worker process and every process below it: its descendants (found
 * while it is alive), its process group (which still holds the children it
 * left behind after it died), and itself. SIGKILL, not asked politely: the
 * code already ignored its abort signal, and a child blocked on the test (a
 * `sleep` under execSync) has nothing to clean up. Descendants are stopped
 * first so that none forks a new one between the listing and the kill, and
 * continued last, so that none is ever left stopped (one that a SIGKILL could
 * not reach, a setuid browser helper say, runs on as it was). `searchMarks`:
 * false when the worker's journal says it never spawned (nothing carries its mark).
 */
export function killTree(pid: number, known: readonly number[] = [], searchMarks = true): void {
  // Marked with its pid: what it spawned, even re-parented or in a session
  // of its own (setsid), where neither the tree nor the group reaches.
  const found = [...new Set([...known, ...descendantsOf(pid), ...(searchMarks ? markedProcesses(`${pid}:`) : [])])]
  for (const child of found) trySignal(child, 'SIGSTOP')
  trySignal(-pid, 'SIGKILL')
  for (const child of found) trySignal(child, 'SIGKILL')
  trySignal(pid, 'SIGKILL')
  for (const child of found) trySignal(child, 'SIGCONT')
}

/**
 * Every process whose environment carries a child mark (shared/child-mark.ts)
 * that starts with `mark`: `<pid>:<threadId>:` for every child of one worker,
 * `<pid>:<threadId>:sync` for the ones it waits on. Searched among all
 * processes, not only descendants: a child whose parent exited is re-parented
 * to init, and the mark still says whose it is (it names a live process of
 * this run, so its pid cannot have been reused). Read from /proc (Linux);
 * elsewhere none is found, and the caller falls back to killing the worker.
 */
export function markedProcesses(mark: string): number[] {
  const found: number[] = []
  let names: string[]
  try {
    names = readdirSync('/proc')
  } catch {
    return found
  }
  for (const name of names) {
    if (/^\d+$/.test(name) && markOf(Number(name))?.startsWith(mark)) found.push(Number(name))
  }
  return found
}

/** The child mark in a process's environment, or null (none, or not readable). */
function markOf(pid: number): string | null {
  try {
    const environ = `\0${readFileSync(`/proc/${pid}/environ`, 'latin1')}`
    const at = environ.indexOf(`\0${CHILD_MARK}=`)
    if (at === -1) return null
    const start = at + CHILD_MARK.length + 2
    const end = environ.indexOf('\0', start)
    return environ.slice(start, end === -1 ? undefined : end)
  } catch {
    return null
  }
}

/** A direct child of a worker, as the process table shows it. */
export interface ChildEntry {
  pid: number
  /** Its child mark (shared/child-mark.ts), or null: none, or not readable. A hint only: the child's environment is the test's to change. */
  mark: string | null
}

/**
 * Direct children of `parent`, alive (not zombies), that started at or after
 * `sinceEpochMs` (from /proc: start time in clock ticks since boot), except
 * `exclude`. A thread blocked in a synchronous call waits on a direct child
 * it started during the blocked run, whatever that child's environment says.
 */
export function childrenSince(parent: number, sinceEpochMs: number, exclude: ReadonlySet<number> = new Set()): ChildEntry[] {
  const CLOCK_TICKS_PER_SECOND = 100 // USER_HZ: 100 on every Linux that Node supports.
  let bootSeconds: number
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith('btime '))
    bootSeconds = Number(line?.split(' ')[1])
    if (!Number.isFinite(bootSeconds)) return []
  } catch {
    return []
  }
  const found: ChildEntry[] = []
  for (const [child, ppid] of parentTable()) {
    if (ppid !== parent || exclude.has(child)) continue
    const fields = statFields(child)
    if (!fields || fields[0] === 'Z') continue
    const ticks = Number(fields[19])
    // A tick is 10 ms: one second of slack for the start time's rounding.
    if (Number.isFinite(ticks) && (bootSeconds + ticks / CLOCK_TICKS_PER_SECOND) * 1000 >= sinceEpochMs - 1_000) found.push({ pid: child, mark: markOf(child) })
  }
  return found
}

/**
 * The fields of /proc/<pid>/stat after the command name (field 3 on), or
 * null. The name in field 2 may contain spaces and parentheses: parse after
 * the last ')'.
 */
export function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return null
  }
}
