import { readFileSync } from 'node:fs'
import { relative, resolve } from 'node:path'
import type { Reporter, TestCase, TestModule, Vitest } from 'vitest/node'
import { CRASHED_CODE, STOPPED_CODE } from '../shared/errors.js'
import { parseJournal } from '../shared/journal.js'
import type { FinishedEntry, HangEntry, LeakEntry, LeakReportEntry } from '../shared/report.js'
import { STARTED_META_KEY, LEAKS_META_KEY } from '../shared/report.js'
import { describeStop, type Stop } from '../shared/stop.js'
import { appendJobSummary, githubAnnotations } from './github.js'
import { killAllWorkers, liveJournals } from './process-registry.js'
import { ReportFile } from './report-file.js'

/**
 * How often the reporter refreshes the report's `running` section. A quarter
 * second is finer than anyone reads a log, and costs nothing.
 */
const RUNNING_TICK_MS = 250
/**
 * After the run deadline, the ladder in the workers needs up to three grace
 * periods (abort, interrupt, kill) plus a worker restart; past this margin on
 * top, the main process stops everything itself.
 */
const HARD_STOP_MARGIN_MS = 5_000

interface InFlight {
  file: string
  test: string
  since: number
}

export interface ReporterOptions {
  outputFile: string | undefined
  leaks: 'off' | 'report' | 'fail'
  grace: number
  /** Epoch ms at which the whole run must stop (runTimeout), or null. */
  runDeadline: number | null
}

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

  private readonly running = new Map<string, InFlight>()
  private readonly finished: FinishedEntry[] = []
  private readonly finishedIds = new Set<string>()
  private ticker: ReturnType<typeof setInterval> | undefined
  private ended = false

  constructor(private readonly options: ReporterOptions) {}

  onInit(vitest: Vitest): void {
    this.vitest = vitest
    if (this.options.outputFile) {
      this.file = new ReportFile(resolve(vitest.config.root, this.options.outputFile), (message) => vitest.logger.error(message))
      this.write()
    }
    // A run killed from outside (Vitest exits on SIGINT/SIGTERM) still leaves a
    // report naming the tests that were in flight.
    process.once('exit', () => {
      if (!this.ended) this.readLiveJournals()
      this.write()
    })
    this.ticker = setInterval(() => this.tick(), RUNNING_TICK_MS)
    this.ticker.unref()
    if (this.options.runDeadline !== null) this.armHardStop(this.options.runDeadline)
  }

  onTestCaseReady(testCase: TestCase): void {
    const startedAt = (testCase.meta() as Record<string, unknown>)[STARTED_META_KEY]
    this.running.set(testCase.id, {
      file: this.relative(testCase.module.moduleId),
      test: testCase.fullName,
      // The worker's own start time: task updates reach this process in batches, late.
      since: typeof startedAt === 'number' ? startedAt : Date.now(),
    })
  }

  /** Refreshes the report's `running` section. (SLOW is announced by the ladder: host/ladder/watch.ts.) */
  private tick(): void {
    if (this.running.size > 0) this.write()
  }

  /**
   * The run is being stopped from outside. A worker blocked in a system call
   * has not told Vitest what it finished (its updates wait in its event loop),
   * but its journal is on disk: take finished and in-flight tests from there.
   */
  private readLiveJournals(): void {
    for (const journal of liveJournals()) {
      let text: string
      try {
        text = readFileSync(journal, 'utf8')
      } catch {
        continue
      }
      const started = new Map<string, { file: string; test: string; since: number }>()
      for (const entry of parseJournal(text)) {
        if (entry.kind === 'test') {
          started.set(entry.test, { file: this.relative(entry.file), test: entry.name, since: entry.at })
          continue
        }
        if (entry.kind !== 'result') continue
        const test = started.get(entry.test)
        started.delete(entry.test)
        if (!test || this.finishedIds.has(entry.test)) continue
        this.finishedIds.add(entry.test)
        const state = entry.result.state
        this.finished.push({ file: test.file, test: test.test, state: state === 'pass' ? 'passed' : state === 'fail' ? 'failed' : String(state) })
      }
      for (const [id, test] of started) {
        if (!this.running.has(id)) this.running.set(id, test)
      }
    }
  }

  private armHardStop(deadline: number): void {
    const hardStop = setTimeout(() => {
      if (this.ended) return
      this.vitest?.logger.error(`vitest-watchdog: the run deadline (runTimeout) passed ${HARD_STOP_MARGIN_MS + 3 * this.options.grace}ms ago and Vitest has not finished: stopping every worker and exiting.`)
      this.write()
      killAllWorkers()
      process.exit(1)
    }, Math.max(0, deadline - Date.now()) + 3 * this.options.grace + HARD_STOP_MARGIN_MS)
    hardStop.unref()
  }

  onTestCaseResult(testCase: TestCase): void {
    this.running.delete(testCase.id)
    if (!this.finishedIds.has(testCase.id)) {
      this.finishedIds.add(testCase.id)
      this.finished.push({ file: this.relative(testCase.module.moduleId), test: testCase.fullName, state: testCase.result().state })
    }
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
      const { code, stop, stack } = error as { code?: string; stop?: Stop; stack?: string }
      if ((code !== STOPPED_CODE && code !== CRASHED_CODE) || !stop?.stage) continue
      this.add({
        ...(stop.crash ? { crash: stop.crash } : {}),
        ...(stop.subject && stop.subject !== 'Test' ? { what: stop.subject } : {}),
        file: this.relative(moduleId),
        test: name,
        stage: stop.stage,
        reason: stop.reason,
        killAfter: stop.killAfter,
        elapsedMs: Math.round(stop.elapsedMs),
        location: stop.location ? { ...stop.location, file: this.relative(stop.location.file) } : null,
        stack: stop.stack || stack || '',
        note: describeStop(stop, this.vitest?.config.root),
      })
      this.seen.add(id)
    }
  }

  onTestRunEnd(_modules: ReadonlyArray<TestModule>): void {
    this.ended = true
    clearInterval(this.ticker)
    this.running.clear()
    this.write()
    this.printLeaks()
    this.github()
    if (this.options.runDeadline !== null && Date.now() >= this.options.runDeadline) {
      this.vitest?.logger.error('vitest-watchdog: the run deadline (runTimeout) passed: tests still running then were stopped, and the tests after them did not run.')
      process.exitCode = 1
    }
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
    const running = [...this.running.values()].map((t) => ({ file: t.file, test: t.test, since: new Date(t.since).toISOString(), elapsedMs: Date.now() - t.since }))
    this.file?.write({ hangs: this.hangs, leaks: this.leaks, running, finished: this.finished })
  }

  private github(): void {
    if (process.env.GITHUB_ACTIONS !== 'true' || !this.vitest) return
    const root = this.vitest.config.root
    const failing = (leak: LeakReportEntry) => this.options.leaks === 'fail' || leak.failed === true
    for (const line of githubAnnotations(root, this.hangs, this.leaks, failing)) process.stdout.write(line + '\n')
    if (process.env.GITHUB_STEP_SUMMARY) appendJobSummary(process.env.GITHUB_STEP_SUMMARY, this.hangs, this.leaks)
  }

  /**
   * A stop decided in the main process with no test result to carry it
   * (browser mode: a page that did not answer was closed, and its file's
   * results with it).
   */
  addHostStop(file: string, test: string, stop: Stop): void {
    this.add({
      ...(stop.subject !== 'Test' ? { what: stop.subject } : {}),
      file: this.relative(file),
      test,
      stage: stop.stage,
      reason: stop.reason,
      killAfter: stop.killAfter,
      elapsedMs: Math.round(stop.elapsedMs),
      location: null,
      stack: '',
      note: describeStop(stop, this.vitest?.config.root),
    })
  }

  private add(entry: HangEntry): void {
    this.hangs.push(entry)
    this.write()
  }

  private relative(path: string): string {
    return this.vitest ? relative(this.vitest.config.root, path) || path : path
  }
}
