import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

/** Parent pid of every process we can see. /proc on Linux (no spawn), `ps` elsewhere. */
function parentTable(): Map<number, number> {
  const table = new Map<number, number>()
  try {
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue
      try {
        // The command name in field 2 may contain spaces and parentheses: parse after the last ')'.
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        table.set(Number(name), Number(fields[1]))
      } catch {
        // The process exited while we were reading: it has no descendants to kill.
      }
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

/** Every descendant of `root`, grandchildren included, deepest last. */
export function descendantsOf(root: number): number[] {
  const table = parentTable()
  const children = new Map<number, number[]>()
  for (const [pid, ppid] of table) {
    const list = children.get(ppid) ?? []
    list.push(pid)
    children.set(ppid, list)
  }
  const found: number[] = []
  const queue = [root]
  while (queue.length > 0) {
    const next = children.get(queue.shift()!) ?? []
    found.push(...next)
    queue.push(...next)
  }
  return found
}

/**
 * SIGKILL every descendant. A hung test's children are not asked politely:
 * the test already ignored its abort signal, and a child blocked on the test
 * (a `sleep` under execSync) has nothing to clean up.
 * Children are stopped first (SIGSTOP) so none can fork a new one between the
 * listing and the kill.
 */
export function killDescendants(root: number): number[] {
  const pids = descendantsOf(root)
  for (const pid of pids) trySignal(pid, 'SIGSTOP')
  const late = descendantsOf(root).filter((pid) => !pids.includes(pid))
  const all = [...pids, ...late]
  for (const pid of all) trySignal(pid, 'SIGKILL')
  return all
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
 * left behind after it died), and itself.
 */
export function killTree(pid: number, known: readonly number[] = []): void {
  const found = [...new Set([...known, ...descendantsOf(pid)])]
  for (const child of found) trySignal(child, 'SIGSTOP')
  trySignal(-pid, 'SIGKILL')
  for (const child of found) trySignal(child, 'SIGKILL')
  trySignal(pid, 'SIGKILL')
}

/**
 * Children of `pid` started at or after `sinceEpochMs` (from /proc: start
 * time in clock ticks since boot). Under the threads pool every test thread
 * shares one process, and a child blocked under execSync is known to no
 * JavaScript object: the children started since the stuck test began are the
 * best guess at its own.
 */
export function childrenStartedSince(pid: number, sinceEpochMs: number): number[] {
  const CLOCK_TICKS_PER_SECOND = 100 // USER_HZ: 100 on every Linux that Node supports.
  let bootSeconds: number
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith('btime '))
    bootSeconds = Number(line?.split(' ')[1])
    if (!Number.isFinite(bootSeconds)) return []
  } catch {
    return []
  }
  const found: number[] = []
  for (const [child, parent] of parentTable()) {
    if (parent !== pid) continue
    try {
      const stat = readFileSync(`/proc/${child}/stat`, 'utf8')
      const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19])
      if ((bootSeconds + ticks / CLOCK_TICKS_PER_SECOND) * 1000 >= sinceEpochMs - 1_000) found.push(child)
    } catch {
      // Gone.
    }
  }
  return found
}
