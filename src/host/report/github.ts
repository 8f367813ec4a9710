import { appendFileSync } from 'node:fs'
import { relative, resolve } from 'node:path'
import type { HangEntry, LeakReportEntry } from '../../shared/report.js'

/**
 * GitHub Actions workflow commands: one annotation per stop, at its hang line
 * (or the test's line when nothing was running), one at the creation line of
 * each leak, and a Markdown table in the job summary. A stop whose failure
 * Vitest's own github-actions reporter annotates (at the first frame of its
 * error: the same line) gets no second one here. Paths are relative to the
 * repository root (GITHUB_WORKSPACE), which is what annotations need to land on the diff.
 */
export function githubAnnotations(root: string, hangs: HangEntry[], leaks: LeakReportEntry[], failOnLeaks: (leak: LeakReportEntry) => boolean, annotatedByVitest: (hang: HangEntry) => boolean = () => false): string[] {
  const workspace = process.env.GITHUB_WORKSPACE || root
  const path = (file: string) => relative(workspace, resolve(root, file))
  const lines: string[] = []
  for (const hang of hangs) {
    if (annotatedByVitest(hang)) continue
    const at = hang.location ?? definitionOf(hang.stack, root) ?? { file: hang.file, line: 1, column: 1 }
    const title = hang.crash ? 'Worker crashed during the test' : hang.passedOnRetry ? 'Test stopped, then passed on retry' : `Test stopped at stage ${hang.stage}`
    const message = `${inProject(hang)}${hang.what ?? hang.test}: ${hang.crash ? `the worker died (${hang.crash.signal ?? `exit code ${hang.crash.exitCode}`})` : `stopped at stage "${hang.stage}" after ${hang.elapsedMs}ms (killAfter ${hang.killAfter}ms)`}${hang.location ? '' : ' (no JavaScript was running)'}${hang.passedOnRetry ? ', then passed on retry' : ''}`
    lines.push(`::${hang.passedOnRetry ? 'warning' : 'error'} file=${escapeProperty(path(at.file))},line=${at.line},col=${at.column},title=${escapeProperty(`vitest-watchdog: ${title}`)}::${escapeData(message)}`)
  }
  for (const leak of leaks) {
    const at = leak.location ?? { file: leak.file, line: 1, column: 1 }
    const level = failOnLeaks(leak) ? 'error' : 'warning'
    lines.push(`::${level} file=${escapeProperty(path(at.file))},line=${at.line},col=${at.column},title=${escapeProperty(`vitest-watchdog: ${leak.type} leaked`)}::${escapeData(`${inProject(leak)}${leak.test}: ${leak.hint}`)}`)
  }
  return lines
}

export function appendJobSummary(file: string, hangs: HangEntry[], leaks: LeakReportEntry[]): void {
  if (hangs.length === 0 && leaks.length === 0) return
  const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ')
  const where = (l: { file: string; line: number } | null) => (l ? `\`${l.file}:${l.line}\`` : '—')
  const out = ['## vitest-watchdog', '']
  if (hangs.length > 0) {
    out.push(`### Stopped tests (${hangs.length})`, '', '| Test | Stage | Elapsed | Budget | Where |', '|---|---|---|---|---|')
    for (const h of hangs) out.push(`| ${cell(`${inProject(h)}${h.file} > ${h.what ?? h.test}`)} | ${h.crash ? `crash (${h.crash.signal ?? `exit ${h.crash.exitCode}`})` : h.passedOnRetry ? `${h.stage}, then passed on retry` : h.stage} | ${h.elapsedMs} ms | ${h.killAfter} ms | ${where(h.location)} |`)
    out.push('')
  }
  if (leaks.length > 0) {
    out.push(`### Leaked resources (${leaks.length})`, '', '| Test | Resource | Created at | Fix |', '|---|---|---|---|')
    for (const l of leaks) out.push(`| ${cell(`${inProject(l)}${l.file} > ${l.test}`)} | ${l.type} | ${where(l.location)} | ${cell(l.hint)} |`)
    out.push('')
  }
  appendFileSync(file, out.join('\n') + '\n')
}

/** The first frame of a stop's stack (the test's own line when nothing was running), relative to `root`. */
function definitionOf(stack: string, root: string): { file: string; line: number; column: number } | null {
  const frame = /^\s+at (?:.*\()?(\/[^()]*?):(\d+):(\d+)\)?$/m.exec(stack)
  return frame ? { file: relative(root, frame[1]!), line: Number(frame[2]), column: Number(frame[3]) } : null
}

/** `[project] ` when the run has several projects (the entry then names its own), else nothing. */
export function inProject(entry: { project?: string }): string {
  return entry.project === undefined ? '' : `[${entry.project}] `
}

// https://github.com/actions/toolkit/blob/main/packages/core/src/command.ts
function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')
}

function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C')
}
