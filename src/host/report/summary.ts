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
  const where = reportPaths.length > 0 ? `; report: ${oneLine(reportPaths.join(', '))}` : ''
  const failed = hangs.filter((hang) => !hang.passedOnRetry)
  const retried = hangs.filter((hang) => hang.passedOnRetry)
  if (failed.length > 0) {
    lines.push(`vitest-watchdog: ${failed.length} test${failed.length === 1 ? '' : 's'} stopped or crashed${where}`)
    for (const hang of failed) lines.push(hangLine(hang))
  }
  // A stop a later attempt made up for is no failure: said apart, not counted with them.
  if (retried.length > 0) {
    lines.push(`vitest-watchdog: ${retried.length} test${retried.length === 1 ? '' : 's'} stopped, then passed on retry${failed.length > 0 ? '' : where}`)
    for (const hang of retried) lines.push(hangLine(hang))
  }
  return lines
}

function hangLine(hang: HangEntry): string {
  const at = hang.location ? `  at ${oneLine(hang.location.file)}:${hang.location.line}:${hang.location.column}` : ''
  const what = hang.crash ? `crashed (${hang.crash.signal ?? `exit code ${hang.crash.exitCode}`})` : hang.stage
  return `  ${what.padEnd(9)} ${oneLine(`${inProject(hang)}${hang.file} > ${hang.test}`)}  after ${hang.elapsedMs}ms (killAfter ${hang.killAfter}ms)${at}`
}
