import { spawn, type ChildProcess } from 'node:child_process'
import { CHILD_MARK } from '../shared/child-mark.js'
import { realSetImmediate } from '../shared/clock.js'

/**
 * One small process per Vitest run that kills every worker group, and
 * removes every scratch directory, once the main process is gone, however it
 * went: SIGKILL and crashes included, which run no 'exit' hook.
 *
 * A worker has no thread of the watchdog's (the ladder runs in the main
 * process), so a worker spinning in a test cannot notice that its parent
 * died. The reaper learns what to clean from lines on its stdin ("+w PID",
 * "-w PID", "+d DIR", "-d DIR"); when the main process dies, the kernel closes
 * that pipe, and the reaper reads end-of-file. It is /bin/sh, not a second
 * Node: it starts in about a millisecond and costs nothing while it waits.
 * It leads its own process group, so a terminal's Ctrl+C (sent to the
 * foreground group) does not take it down before it has done its job.
 * (`kill -KILL -PGID`, without `--`: dash, Debian's /bin/sh, refuses `--`.
 * Names are quoted inside the patterns, so that *, ? and [ match themselves.)
 * Children of worker threads live in no worker's group, and a child that
 * started a session of its own (setsid) in none of the worker's: they are
 * found by their child mark (shared/child-mark.ts), which names the main
 * process or the worker that spawned them.
 */
const SCRIPT = `
main=$PPID
workers=' '
dirs='
'
while IFS= read -r line; do
  case $line in
    '+w '*) workers="$workers\${line#+w } " ;;
    '-w '*) id=\${line#-w }
      case $workers in *" $id "*) workers="\${workers%% "$id" *} \${workers#* "$id" }" ;; esac ;;
    '+d '*) dirs="$dirs\${line#+d }
" ;;
    '-d '*) dir=\${line#-d }
      case $dirs in *"
$dir
"*) dirs="\${dirs%%"
$dir
"*}
\${dirs#*"
$dir
"}" ;; esac ;;
  esac
done
for id in $workers; do kill -KILL -$id 2>/dev/null; kill -KILL $id 2>/dev/null; done
for id in $main $workers; do
  for f in $(grep -la "${CHILD_MARK}=$id:" /proc/[0-9]*/environ 2>/dev/null); do p=\${f#/proc/}; kill -KILL \${p%/environ} 2>/dev/null; done
done
printf '%s' "$dirs" | while IFS= read -r dir; do [ -n "$dir" ] && rm -rf -- "$dir"; done
`

let reaper: ChildProcess | null | undefined
/**
 * Lines told before the reaper started. It starts on the event loop's next
 * turn after the first line, not in the middle of the first worker's start:
 * that worker is forked first, and the reaper is spawned while it boots.
 */
let queued: string[] | null = null

function started(): ChildProcess | null {
  if (reaper !== undefined) return reaper
  try {
    reaper = spawn('/bin/sh', ['-c', SCRIPT], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] })
    reaper.on('error', (error) => {
      process.stderr.write(`vitest-watchdog: could not start the reaper (/bin/sh): ${error.message}. If Vitest is killed outright, its workers may outlive it.\n`)
      reaper = null
    })
    // EPIPE if it died: what it would have cleaned is cleaned on a normal exit anyway.
    reaper.stdin?.on('error', () => {})
    reaper.unref()
    ;(reaper.stdin as unknown as { unref?: () => void } | null)?.unref?.()
  } catch {
    reaper = null
  }
  return reaper
}

function startQueued(): void {
  const lines = queued ?? []
  queued = null
  const stdin = started()?.stdin
  if (lines.length > 0 && stdin?.writable) stdin.write(lines.join(''))
}

/** The reaper's own pid, once started: a child of the main process that no test owns. */
export function reaperPid(): number | undefined {
  return reaper?.pid
}

function tell(line: string): void {
  if (reaper === undefined) {
    if (!queued) {
      queued = []
      realSetImmediate(startQueued).unref()
    }
    queued.push(`${line}\n`)
    return
  }
  const stdin = reaper?.stdin
  if (stdin?.writable) stdin.write(`${line}\n`)
}

/** A worker process (leader of its own group) to kill if the main process dies. */
export function reapWorker(pid: number): void {
  tell(`+w ${pid}`)
}

export function forgetWorker(pid: number): void {
  if (reaper || queued) tell(`-w ${pid}`)
}

/** A scratch directory to remove if the main process dies. Paths come from mkdtemp: no newline in them. */
export function reapDir(dir: string): void {
  tell(`+d ${dir}`)
}

export function forgetDir(dir: string): void {
  if (reaper || queued) tell(`-d ${dir}`)
}
