import type { HangEntry, LeakReportEntry } from '../../shared/report.js'
import { oneLine } from '../../shared/one-line.js'
import { inProject } from './github.js'

/**
 * The terminal summary of one run: its stopped and crashed tests, one line
 * each, then its leaks grouped by test. Lines, so the caller decides where
 * they go (Vitest's logger).
 */
export function summaryLines(hangs: readonly HangEntry[], leaks: readonly LeakReportEntry[], reportPaths: readonly string[]): string[] {
  const lines: string[] = []
  if (leaks.length > 0) {
    const byTest = new Map<string, LeakReportEntry[]>()
    for (const leak of leaks) {
      // Names are the user's: escaped, so none of them starts a line (or a workflow command) of its own.
      const key = oneLine(`${inProject(leak)}${leak.file} > ${leak.test}`)
      byTest.set(key, [...(byTest.get(key) ?? []), leak])
    }
    lines.push(`vitest-watchdog: ${leaks.length} leaked resource${leaks.length === 1 ? '' : 's'} in ${byTest.size} test${byTest.size === 1 ? '' : 's'}`)
    for (const [test, found] of byTest) {
      lines.push(`  ${test}`)
      for (const leak of found) {
        const at = leak.location ? `${oneLine(leak.location.file)}:${leak.location.line}:${leak.location.column}` : 'unknown location'
        lines.push(`    ${leak.type.padEnd(12)} created at ${at}: ${oneLine(leak.hint)}${leak.note ? ` (${oneLine(leak.note)})` : ''}`)
      }
    }
  }
  if (hangs.length > 0) {
    const where = reportPaths.length > 0 ? `; report: ${oneLine(reportPaths.join(', '))}` : ''
    lines.push(`vitest-watchdog: ${hangs.length} test${hangs.length === 1 ? '' : 's'} stopped or crashed${where}`)
    for (const hang of hangs) {
      const at = hang.location ? `  at ${oneLine(hang.location.file)}:${hang.location.line}:${hang.location.column}` : ''
      const what = hang.crash ? `crashed (${hang.crash.signal ?? `exit code ${hang.crash.exitCode}`})` : hang.stage
      lines.push(`  ${what.padEnd(9)} ${oneLine(`${inProject(hang)}${hang.file} > ${hang.test}`)}  after ${hang.elapsedMs}ms (killAfter ${hang.killAfter}ms)${at}`)
    }
  }
  return lines
}
