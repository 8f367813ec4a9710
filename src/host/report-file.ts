import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import type { WatchdogReport } from '../shared/report.js'

/**
 * The JSON report on disk. Each write goes to a temporary file that is then
 * renamed over the report, so a reader (or a CI job killed mid-run) always
 * finds a complete, parseable file.
 */
export class ReportFile {
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true })
  }

  write(report: WatchdogReport): void {
    const temporary = `${this.path}.${process.pid}.tmp`
    writeFileSync(temporary, JSON.stringify(report, null, 2) + '\n')
    renameSync(temporary, this.path)
  }
}
