import { randomBytes } from 'node:crypto'
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import type { WatchdogReport } from '../../shared/report.js'

/**
 * The JSON report on disk. Each write goes to a temporary file beside it
 * (an unpredictable name: nobody can plant a link there) that is then renamed
 * over the report, so a reader, or a CI job killed mid-run, always finds a
 * complete, parseable file.
 *
 * A report that cannot be written (its folder removed mid-run, a full disk,
 * `outputFile` naming a directory) never takes Vitest down: the failure is
 * said once, naming the option and the cause, no temporary file is left, the
 * run's results stand, and the run fails (the report CI asked for is missing).
 */
export class ReportFile {
  private failed = false

  constructor(
    readonly path: string,
    private readonly onFailure: (message: string) => void,
  ) {}

  write(report: WatchdogReport): void {
    const temporary = join(dirname(this.path), `.${basename(this.path)}.${randomBytes(6).toString('hex')}.tmp`)
    try {
      mkdirSync(dirname(this.path), { recursive: true })
      writeFileSync(temporary, JSON.stringify(report, null, 2) + '\n')
      renameSync(temporary, this.path)
    } catch (error) {
      rmSync(temporary, { force: true })
      if (this.failed) return
      this.failed = true
      process.exitCode = 1
      const cause = error instanceof Error ? error.message : String(error)
      this.onFailure(`vitest-watchdog: cannot write the report to ${this.path} (option outputFile): ${cause}. The test results stand; the run fails because the report is missing.`)
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

  write(report: (include: (project: string | undefined) => boolean) => WatchdogReport): void {
    for (const { file, projects } of this.files.values()) file.write(report((project) => project !== undefined && projects.has(project)))
  }
}
