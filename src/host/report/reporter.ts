import { relative, resolve } from 'node:path'
import type { Reporter, TestCase, TestModule, TestProject, TestSpecification, Vitest } from 'vitest/node'
import { PROVIDE_KEY, type WorkerSettings } from '../../shared/options.js'
import type { HangEntry, LeakMode, LeakReportEntry } from '../../shared/report.js'
import type { Stop } from '../../shared/stop.js'
import { oneLine } from '../../shared/one-line.js'
import { killAllWorkers, liveJournals } from '../process-registry.js'
import { exitNow } from '../stuck-threads.js'
import { pageConnected } from '../browser/ladder.js'
import { guardBrowserPages } from '../browser/page-respawn.js'
import { browserServerReady } from '../browser/project.js'
import { RunCollector } from './collector.js'
import { RunDeadline, type GuardedProject } from './deadline.js'
import { appendJobSummary, githubAnnotations } from './github.js'
import { ReportFiles } from './report-file.js'
import { summaryLines } from './summary.js'

/**
 * How often the reporter refreshes the report's `running` section. A quarter
 * second is finer than anyone reads a log, and costs nothing.
 */
const RUNNING_TICK_MS = 250

/** A guarded project, with its watchdog() options that concern the main process. */
export interface ReportedProject extends GuardedProject {
  outputFile: string | undefined
  leaks: LeakMode
  /** The user's own includeTaskLocation: the plugin turns it on in browser projects (browser/guard.ts culpritOf), not for the output. */
  taskLocation: boolean
}

/** One reporter per Vitest instance, however many projects (and watchdog() plugins) it has: one summary per run. */
const reporters = new WeakMap<Vitest, WatchdogReporter>()

/** The reporter of `vitest`, added to its reporters the first time a project asks. */
export function reporterOf(vitest: Vitest): WatchdogReporter {
  let reporter = reporters.get(vitest)
  if (!reporter) {
    reporter = new WatchdogReporter()
    reporters.set(vitest, reporter)
    ;(vitest.config.reporters as unknown[]).push(reporter)
  }
  return reporter
}

/**
 * The main process's side of the report: collects, for each run, every test
 * the watchdog stopped or that crashed and every leak, from the test results
 * Vitest already carries to the main process; keeps the JSON report current
 * as the run goes (so a run killed from outside still leaves what was seen so
 * far); and at the run's end prints the summary and writes the CI outputs.
 *
 * All state of a run lives in its RunCollector and RunDeadline, made anew at
 * each run's start: a watch-mode rerun reports itself only.
 */
export class WatchdogReporter implements Reporter {
  private vitest: Vitest | undefined
  private readonly projects = new Map<TestProject, ReportedProject>()
  private files: ReportFiles | undefined
  private run: RunCollector | undefined
  private readonly deadline = new RunDeadline()
  private ticker: ReturnType<typeof setInterval> | undefined
  private ended = false

  /** Called from configureVitest for each project the watchdog guards. */
  addProject(guarded: ReportedProject): void {
    this.projects.set(guarded.project, guarded)
  }

  onInit(vitest: Vitest): void {
    this.vitest = vitest
    const files = new ReportFiles((message) => vitest.logger.error(message))
    for (const { project, outputFile } of this.projects.values()) {
      if (outputFile) files.add(resolve(project.config.root, outputFile), project.name)
    }
    this.files = files
    this.run = this.newRun()
    this.write()
    // A run killed from outside (Vitest exits on SIGINT/SIGTERM) still leaves a
    // report naming the tests that were in flight.
    process.once('exit', () => {
      if (!this.ended) this.run?.readJournals(liveJournals())
      this.write(true)
    })
  }

  onTestRunStart(_specifications: ReadonlyArray<TestSpecification>): void {
    this.run = this.newRun()
    this.ended = false
    this.write()
    clearInterval(this.ticker)
    this.ticker = setInterval(() => {
      if (this.run && this.run.inFlight > 0) this.write()
    }, RUNNING_TICK_MS)
    this.ticker.unref()
    const deadlines = this.deadline.start(this.projects.values(), (marginMs) => this.hardStop(marginMs))
    // What each project's workers need to know of this run: its deadline, and
    // its name when there are several (stop messages, hence JUnit, name it).
    // Vitest sends the provided context with every run request, so a worker
    // kept across reruns (isolate: false) gets the current values too.
    const several = (this.vitest?.projects.length ?? 0) > 1
    for (const { project, settings } of this.projects.values()) {
      const run: WorkerSettings = { ...settings, runDeadline: deadlines.get(project) ?? null, project: several ? project.name : null }
      project.provide(PROVIDE_KEY as never, run as never)
    }
  }

  /** A guarded project's browser server exists, before its first page opens: its pages can be resumed after a kill. */
  onBrowserInit(project: TestProject): void {
    if (!this.projects.has(project)) return
    browserServerReady(project)
    guardBrowserPages(project, (sessionId) => pageConnected(project, sessionId))
  }

  /** A stop with no test result to carry it (browser mode: a closed page), see RunCollector.hostStop. */
  addHostStop(project: TestProject, file: string, test: string, stop: Stop): void {
    this.run?.hostStop(project, file, test, stop)
  }

  onTestCaseReady(testCase: TestCase): void {
    this.run?.testReady(testCase)
  }

  onTestCaseResult(testCase: TestCase): void {
    this.run?.testResult(testCase)
  }

  onTestModuleQueued(module: TestModule): void {
    this.run?.moduleQueued(module)
  }

  /** Task locations the user did not ask for are dropped as they arrive, so Vitest prints none ("FAIL a.test.ts > x", as without the plugin). */
  onTestModuleCollected(module: TestModule): void {
    if (this.projects.get(module.project)?.taskLocation !== false) return
    const drop = (task: { location?: unknown; tasks?: unknown[] }): void => {
      delete task.location
      for (const child of task.tasks ?? []) drop(child as typeof task)
    }
    drop((module as unknown as { task: never }).task)
  }

  onTestModuleEnd(module: TestModule): void {
    this.run?.moduleEnd(module)
  }

  async onTestRunEnd(_modules: ReadonlyArray<TestModule>): Promise<void> {
    this.ended = true
    clearInterval(this.ticker)
    this.deadline.clear()
    const run = this.run
    if (!run || !this.vitest) return
    run.end()
    this.write()
    this.github(run)
    if (this.deadline.passed()) {
      this.vitest.logger.error('vitest-watchdog: the run deadline (runTimeout) passed: tests still running then were stopped, and the tests after them did not run.')
      process.exitCode = 1
    }
    const root = this.vitest.config.root
    // stderr: stdout may be a reporter's output (`--reporter=json > out.json`), which must stay parseable.
    for (const line of summaryLines(run.hangs, run.leaks, (this.files?.paths ?? []).map((path) => relative(root, path) || path))) this.vitest.logger.error(line)
    // The run is over when its report is on disk (a watch-mode rerun's reader comes next); each write is bounded.
    await this.files?.idle()
  }

  private newRun(): RunCollector {
    const root = this.vitest?.config.root ?? process.cwd()
    return new RunCollector(root, (this.vitest?.projects.length ?? 0) > 1, () => this.write())
  }

  /** Vitest is still running well past the run's deadline: the main process stops everything itself. */
  private hardStop(marginMs: number): void {
    if (this.ended) return
    this.vitest?.logger.error(`vitest-watchdog: the run deadline (runTimeout) passed ${marginMs}ms ago and Vitest has not finished: stopping every worker and exiting.`)
    for (const file of this.run?.stuckFiles() ?? []) {
      this.vitest?.logger.error(`vitest-watchdog: ${oneLine(`${file.project === undefined ? '' : `[${file.project}] `}${file.file}`)} began ${file.elapsedMs}ms ago and no test of it was running: it was stuck where nothing is guarded (a setup file, the page or worker starting).`)
    }
    this.write(true)
    killAllWorkers()
    exitNow(1)
  }

  /** `now`: synchronously, when the process is about to exit (nothing asynchronous would finish). */
  private write(now = false): void {
    const run = this.run
    if (run) this.files?.write((include) => run.report(include), now)
  }

  private github(run: RunCollector): void {
    if (process.env.GITHUB_ACTIONS !== 'true' || !this.vitest) return
    const modes = new Map([...this.projects.values()].map((p) => [p.project.name, p.leaks]))
    const only = [...modes.values()][0]
    const failing = (leak: LeakReportEntry) => leak.failed === true || (leak.project === undefined ? only : modes.get(leak.project)) === 'fail'
    // The runner reads workflow commands from stderr as well as stdout; stdout may be a reporter's file.
    // Vitest's github-actions reporter (on by default on GitHub Actions) annotates every failed test at its error's first frame.
    const vitestAnnotates = (this.vitest.config.reporters as unknown[]).some((r) => (Array.isArray(r) ? r[0] : r) === 'github-actions' || (r as { constructor?: { name?: string } } | null)?.constructor?.name === 'GithubActionsReporter')
    const annotated = (hang: HangEntry) => vitestAnnotates && run.failedWithFrame.has(hang)
    for (const line of githubAnnotations(this.vitest.config.root, run.hangs, run.leaks, failing, annotated)) process.stderr.write(line + '\n')
    if (process.env.GITHUB_STEP_SUMMARY) appendJobSummary(process.env.GITHUB_STEP_SUMMARY, run.hangs, run.leaks)
  }
}
