import { existsSync, readFileSync, rmSync } from 'node:fs'
import { relative, resolve } from 'node:path'
import type { Reporter, TestCase, TestModule, Vitest } from 'vitest/node'
import type { KillRecord } from '../shared/kill-log.js'
import type { HangEntry, LeakEntry, LeakReportEntry, SerializedStop } from '../shared/report.js'
import { CRASHED_CODE, LEAKS_META_KEY, STOPPED_CODE } from '../shared/report.js'
import { ReportFile } from './report-file.js'

/**
 * Collects every test the watchdog stopped, from the test results Vitest
 * already carries to the main process, and writes the JSON report as the run
 * goes, so a run killed from outside still leaves what was seen so far.
 */
export class HangReporter implements Reporter {
  private vitest: Vitest | undefined
  private readonly hangs: HangEntry[] = []
  private readonly leaks: LeakReportEntry[] = []
  private readonly leaksSeen = new Set<string>()
  /**
   * Test ids already in the report. A file resumed after its worker died
   * reports its finished tests again (with their recorded results): one entry
   * per test, whatever the number of workers it took.
   */
  private readonly seen = new Set<string>()
  private file: ReportFile | undefined

  constructor(private readonly options: { outputFile: string | undefined; killLogFile: string }) {}

  onInit(vitest: Vitest): void {
    this.vitest = vitest
    if (this.options.outputFile) {
      this.file = new ReportFile(resolve(vitest.config.root, this.options.outputFile))
      this.write()
    }
  }

  onTestCaseResult(testCase: TestCase): void {
    this.collectLeaks(testCase.id, testCase.module.moduleId, testCase.fullName, testCase.meta())
    this.collect(testCase.id, testCase.module.moduleId, testCase.fullName, testCase.result().errors)
  }

  private collectLeaks(id: string, moduleId: string, name: string, meta: object): void {
    const found = (meta as Record<string, unknown>)[LEAKS_META_KEY] as Array<LeakEntry & { hint: string }> | undefined
    if (!found || this.leaksSeen.has(id)) return
    this.leaksSeen.add(id)
    for (const leak of found) this.leaks.push({ file: this.relative(moduleId), test: name, ...leak })
    this.write()
  }

  /** Stops in hooks of a describe or of the file, and in the import of the file, land on the suite or the module. */
  onTestModuleEnd(module: TestModule): void {
    this.collectLeaks(module.id, module.moduleId, '(file)', module.meta())
    this.collect(module.id, module.moduleId, '(file)', module.errors())
    for (const suite of module.children.allSuites()) this.collect(suite.id, module.moduleId, suite.fullName, suite.errors())
  }

  private collect(id: string, moduleId: string, name: string, errors: ReadonlyArray<unknown> | undefined): void {
    if (this.seen.has(id)) return
    for (const error of errors ?? []) {
      const stop = error as Partial<SerializedStop>
      if ((stop.code !== STOPPED_CODE && stop.code !== CRASHED_CODE) || !stop.stage) continue
      this.add({
        ...(stop.code === CRASHED_CODE ? { crash: { signal: stop.signal ?? null, exitCode: stop.exitCode ?? null } } : {}),
        ...(stop.subject && stop.subject !== 'Test' ? { what: stop.subject } : {}),
        file: this.relative(moduleId),
        test: name,
        stage: stop.stage,
        killAfter: stop.killAfter ?? 0,
        elapsedMs: Math.round(stop.elapsedMs ?? 0),
        location: stop.location ? { ...stop.location, file: this.relative(stop.location.file) } : null,
        stack: stop.stack ?? '',
      })
      this.seen.add(id)
    }
  }

  onTestRunEnd(_modules: ReadonlyArray<TestModule>): void {
    this.readKillLog()
    this.write()
    this.printLeaks()
    if (this.hangs.length > 0) {
      const where = this.file ? `; report: ${this.relative(this.file.path)}` : ''
      this.vitest?.logger.log(`vitest-watchdog: ${this.hangs.length} test${this.hangs.length === 1 ? "" : "s"} stopped or crashed${where}`)
      for (const hang of this.hangs) {
        const at = hang.location ? `  at ${hang.location.file}:${hang.location.line}:${hang.location.column}` : ''
        const what = hang.crash ? `crashed (${hang.crash.signal ?? `exit code ${hang.crash.exitCode}`})` : hang.stage
        this.vitest?.logger.log(`  ${what.padEnd(9)} ${hang.file} > ${hang.test}  after ${hang.elapsedMs}ms (killAfter ${hang.killAfter}ms)${at}`)
      }
    }
  }

  /** Leaks grouped by test, one line each, with where they were created and the hint. */
  private printLeaks(): void {
    if (this.leaks.length === 0 || !this.vitest) return
    const byTest = new Map<string, LeakReportEntry[]>()
    for (const leak of this.leaks) {
      const key = `${leak.file} > ${leak.test}`
      byTest.set(key, [...(byTest.get(key) ?? []), leak])
    }
    this.vitest.logger.log(`vitest-watchdog: ${this.leaks.length} leaked resource${this.leaks.length === 1 ? '' : 's'} in ${byTest.size} test${byTest.size === 1 ? '' : 's'}`)
    for (const [test, leaks] of byTest) {
      this.vitest.logger.log(`  ${test}`)
      for (const leak of leaks) {
        const at = leak.location ? `${leak.location.file}:${leak.location.line}:${leak.location.column}` : 'unknown location'
        this.vitest.logger.log(`    ${leak.type.padEnd(12)} created at ${at}: ${leak.hint}${leak.note ? ` (${leak.note})` : ''}`)
      }
    }
  }

  private write(): void {
    this.file?.write({ hangs: this.hangs, leaks: this.leaks })
  }

  private add(entry: HangEntry): void {
    this.hangs.push(entry)
    this.write()
  }

  /** Stops whose worker was killed leave no test result behind, only the helper's record. */
  private readKillLog(): void {
    const path = this.options.killLogFile
    if (!existsSync(path)) return
    const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean)
    rmSync(path, { force: true })
    for (const line of lines) {
      let record: KillRecord
      try {
        record = JSON.parse(line) as KillRecord
      } catch {
        continue
      }
      if (!record.test) continue
      this.hangs.push({
        file: this.relative(record.test.file),
        test: record.test.name,
        stage: 'kill',
        killAfter: record.test.killAfter,
        elapsedMs: Math.round(record.at - record.test.startedAt),
        location: record.location ? { ...record.location, file: this.relative(record.location.file) } : null,
        stack: record.stack,
        note: record.reason,
      })
    }
  }

  private relative(path: string): string {
    return this.vitest ? relative(this.vitest.config.root, path) || path : path
  }
}
