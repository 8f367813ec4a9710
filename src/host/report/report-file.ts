import { randomBytes } from 'node:crypto'
import { accessSync, constants, mkdirSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { basename, dirname, join, resolve, sep } from 'node:path'
import { unrefTimer, realClearTimeout } from '../../shared/clock.js'
import { WatchdogOptionError } from '../../shared/errors.js'
import { oneLine } from '../../shared/one-line.js'
import type { WatchdogReport } from '../../shared/report.js'

/**
 * How long one rewrite of the report may take before it is abandoned. A local
 * disk writes a report in milliseconds, a loaded CI disk in well under a
 * second; a file system that does not answer in 10 s will not, and the run
 * must not wait on it.
 */
export const REPORT_WRITE_BOUND_MS = 10_000

/**
 * Kernel file systems: a folder cannot be made there, and Node 20's recursive
 * mkdir spins for ever on them (ENOENT on the child, EEXIST on the parent).
 */
const KERNEL_DIRS = ['/proc', '/sys', '/dev']

/**
 * Refuses, at start, an `outputFile` whose report could never be written, or
 * whose writing could hang: inside a kernel file system, or under something
 * that is not a writable directory. Only stat, realpath and access on what
 * already exists: nothing is created, and nothing here can spin.
 */
export function checkReportPath(path: string, value: string, source: string): void {
  const folder = dirname(path)
  let existing = folder
  while (!exists(existing) && dirname(existing) !== existing) existing = dirname(existing)
  let real = existing
  try {
    real = realpathSync(existing)
  } catch {
    // Unreadable: the checks below say what is wrong with it.
  }
  const resolvedFolder = resolve(real, folder.slice(existing.length).replace(/^[\\/]+/, ''))
  const kernel = KERNEL_DIRS.find((dir) => resolvedFolder === dir || resolvedFolder.startsWith(dir + sep))
  const refuse = (why: string) => {
    throw new WatchdogOptionError('outputFile', value, source, `a path where the report's folder can be written (it resolves to ${oneLine(path)}: ${why})`)
  }
  if (kernel) refuse(`${oneLine(resolvedFolder)} is inside ${kernel}, a kernel file system where no folder can be made`)
  if (!isDirectory(existing)) refuse(`${oneLine(existing)} is not a directory`)
  try {
    accessSync(existing, constants.W_OK | constants.X_OK)
  } catch (error) {
    refuse(`${oneLine(existing)} is not writable (${(error as NodeJS.ErrnoException).code ?? String(error)})`)
  }
}

function exists(path: string): boolean {
  try {
    statSync(path)
    return true
  } catch {
    return false
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

/**
 * The JSON report on disk. Each write goes to a temporary file beside it
 * (an unpredictable name: nobody can plant a link there) that is then renamed
 * over the report, so a reader, or a CI job killed mid-run, always finds a
 * complete, parseable file.
 *
 * Writes run asynchronously, one at a time (a write asked for meanwhile waits,
 * and only the latest is kept), each within REPORT_WRITE_BOUND_MS: one that
 * does not finish in time is abandoned with one warning, the report is not
 * written again, and the run fails. At exit only a synchronous write can run:
 * it is done unless a write was abandoned.
 *
 * A report that cannot be written (its folder removed mid-run, a full disk,
 * `outputFile` naming a directory) never takes Vitest down: the failure is
 * said once, naming the option and the cause, no temporary file is left, the
 * run's results stand, and the run fails (the report CI asked for is missing).
 */
export class ReportFile {
  private failed = false
  private abandoned = false
  /** The temporary file of the write in flight, if any. */
  private inFlight: string | null = null
  private next: WatchdogReport | null = null
  /** Waiting for the writes in flight and queued to end (see idle). */
  private waiters: Array<() => void> = []

  constructor(
    readonly path: string,
    private readonly onFailure: (message: string) => void,
  ) {}

  write(report: WatchdogReport): void {
    if (this.abandoned) return
    if (this.inFlight) {
      this.next = report
      return
    }
    const temporary = this.temporary()
    this.inFlight = temporary
    let settled = false
    const bound = unrefTimer(() => {
      if (settled) return
      settled = true
      this.abandoned = true
      this.inFlight = null
      this.next = null
      this.wake()
      process.exitCode = 1
      this.onFailure(`vitest-watchdog: writing the report to ${oneLine(this.path)} (option outputFile) did not finish within ${REPORT_WRITE_BOUND_MS}ms: it is not written again. The test results stand; the run fails because the report is missing.`)
    }, REPORT_WRITE_BOUND_MS)
    const end = (error: unknown) => {
      if (settled) {
        // Abandoned: whatever it left is removed when it ends.
        void rm(temporary, { force: true }).catch(() => {})
        return
      }
      settled = true
      realClearTimeout(bound)
      this.inFlight = null
      if (error) {
        void rm(temporary, { force: true }).catch(() => {})
        this.fail(error)
      }
      const next = this.next
      this.next = null
      if (next) this.write(next)
      else this.wake()
    }
    const json = JSON.stringify(report, null, 2) + '\n'
    makeFolder(dirname(this.path))
      .then(() => writeFile(temporary, json))
      .then(() => rename(temporary, this.path))
      .then(() => end(null), end)
  }

  /** Resolves once no write is in flight or queued: each is bounded, so this is too. */
  idle(): Promise<void> {
    if (!this.inFlight) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  private wake(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const resolve of waiters) resolve()
  }

  /** At exit, when nothing asynchronous runs any more: one synchronous write, unless a write was abandoned. */
  writeNow(report: WatchdogReport): void {
    if (this.abandoned) return
    // The write in flight will not finish: its temporary file goes.
    if (this.inFlight) removeQuietly(this.inFlight)
    this.inFlight = null
    this.next = null
    const temporary = this.temporary()
    try {
      makeFolderSync(dirname(this.path))
      writeFileSync(temporary, JSON.stringify(report, null, 2) + '\n')
      renameSync(temporary, this.path)
    } catch (error) {
      removeQuietly(temporary)
      this.fail(error)
    }
  }

  private temporary(): string {
    return join(dirname(this.path), `.${basename(this.path)}.${randomBytes(6).toString('hex')}.tmp`)
  }

  private fail(error: unknown): void {
    if (this.failed) return
    this.failed = true
    process.exitCode = 1
    const cause = error instanceof Error ? error.message : String(error)
    this.onFailure(`vitest-watchdog: cannot write the report to ${oneLine(this.path)} (option outputFile): ${oneLine(cause)}. The test results stand; the run fails because the report is missing.`)
  }
}

/** A temporary file that may not exist, nor its folder (rmSync's force ignores only ENOENT, not ENOTDIR). */
function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true })
  } catch {
    // Its folder is gone or is not one: there is nothing to remove.
  }
}

/**
 * The report's folder and its missing parents, made one level at a time:
 * Node's recursive mkdir can spin for ever where a folder cannot be made
 * (ENOENT, then EEXIST on its parent, again and again); this stops at the
 * first error.
 */
async function makeFolder(folder: string): Promise<void> {
  const missing: string[] = []
  for (let at = folder; !(await stat(at).then((s) => s.isDirectory(), () => false)) && dirname(at) !== at; at = dirname(at)) missing.push(at)
  for (const dir of missing.reverse()) await mkdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error
  })
}

function makeFolderSync(folder: string): void {
  const missing: string[] = []
  for (let at = folder; !isDirectory(at) && dirname(at) !== at; at = dirname(at)) missing.push(at)
  for (const dir of missing.reverse()) {
    try {
      mkdirSync(dir)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
  }
}

/**
 * The run's report files. Several projects may each name an `outputFile`
 * (or share the root's): each file holds the entries of the projects whose
 * watchdog() named it, and is rewritten from scratch at each run's start.
 */
export class ReportFiles {
  private readonly files = new Map<string, { file: ReportFile; projects: Set<string> }>()

  constructor(private readonly onFailure: (message: string) => void) {}

  add(path: string, project: string): void {
    const entry = this.files.get(path) ?? { file: new ReportFile(path, this.onFailure), projects: new Set<string>() }
    entry.projects.add(project)
    this.files.set(path, entry)
  }

  get paths(): string[] {
    return [...this.files.keys()]
  }

  /** Resolves once every file's writes in flight have ended (landed, failed or abandoned). */
  async idle(): Promise<void> {
    await Promise.all([...this.files.values()].map(({ file }) => file.idle()))
  }

  /** `now`: at exit, synchronously (see ReportFile.writeNow). */
  write(report: (include: (project: string | undefined) => boolean) => WatchdogReport, now = false): void {
    for (const { file, projects } of this.files.values()) {
      const content = report((project) => project !== undefined && projects.has(project))
      if (now) file.writeNow(content)
      else file.write(content)
    }
  }
}
