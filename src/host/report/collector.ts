import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import type { TestCase, TestModule, TestProject } from 'vitest/node'
import { CRASHED_CODE, STOPPED_CODE } from '../../shared/errors.js'
import { parseJournal } from '../../shared/journal.js'
import type { LiveJournal } from '../process-registry.js'
import type { FinishedEntry, HangEntry, LeakMetaEntry, LeakReportEntry, RunningEntry, WatchdogReport } from '../../shared/report.js'
import { LEAKS_META_KEY, STARTED_META_KEY } from '../../shared/report.js'
import { stopDetail, type Stop } from '../../shared/stop.js'

/** A stack frame line ("    at ..."): Vitest annotates an error at its first one in user code. */
const FRAME = /\n\s+at /

/** The name a whole file goes by in the report where no test of it is meant (as Vitest's own JSON report does for file errors). */
const FILE_ENTRY = '(file)'

interface InFlight {
  project?: string
  file: string
  test: string
  since: number
}

/**
 * What one test run produced: stops, crashes, leaks, the tests in flight and
 * the tests that finished. The reporter makes a fresh one at each run's
 * start (a watch-mode rerun included), so nothing of an earlier run leaks
 * into this one's report or summary.
 */
export class RunCollector {
  readonly hangs: HangEntry[] = []
  /** Stops carried by the error of a failed test, suite or file with a frame to point at: Vitest's github-actions reporter annotates those itself. */
  readonly failedWithFrame = new WeakSet<HangEntry>()
  readonly leaks: LeakReportEntry[] = []
  /**
   * Task ids already in the report. A file resumed after its worker died
   * reports its finished tests again (with their recorded results): one entry
   * per test, whatever the number of workers it took.
   */
  private readonly seen = new Set<string>()
  private readonly leaksSeen = new Set<string>()
  private readonly running = new Map<string, InFlight>()
  private readonly finished: FinishedEntry[] = []
  private readonly finishedIds = new Set<string>()
  /** Files Vitest handed to a worker or a page and that have not ended, by module id: when each began. */
  private readonly openFiles = new Map<string, InFlight>()

  /**
   * @param root paths in the report are relative to it
   * @param nameProjects the run has several projects: each entry names its own
   * @param changed called when an entry was added (the report is rewritten)
   */
  constructor(
    private readonly root: string,
    private readonly nameProjects: boolean,
    private readonly changed: () => void,
  ) {}

  get inFlight(): number {
    return this.running.size
  }

  testReady(testCase: TestCase): void {
    const startedAt = (testCase.meta() as Record<string, unknown>)[STARTED_META_KEY]
    this.running.set(testCase.id, {
      ...this.projectOf(testCase.project),
      file: this.relative(testCase.module.moduleId),
      test: testCase.fullName,
      // The worker's own start time: task updates reach this process in batches, late.
      since: typeof startedAt === 'number' ? startedAt : Date.now(),
    })
  }

  testResult(testCase: TestCase): void {
    const project = this.projectOf(testCase.project)
    this.running.delete(testCase.id)
    if (!this.finishedIds.has(testCase.id)) {
      this.finishedIds.add(testCase.id)
      this.finished.push({ ...project, file: this.relative(testCase.module.moduleId), test: testCase.fullName, state: testCase.result().state })
    }
    this.collectLeaks(project, testCase.id, testCase.module.moduleId, testCase.fullName, testCase.meta())
    this.collectStops(project, testCase.id, testCase.module.moduleId, testCase.fullName, testCase.result().errors, testCase.result().state === 'passed')
  }

  moduleQueued(module: TestModule): void {
    this.openFiles.set(module.id, { ...this.projectOf(module.project), file: this.relative(module.moduleId), test: FILE_ENTRY, since: Date.now() })
  }

  /**
   * The run is stopped at its deadline: a file that began and has no test
   * running is stuck where nothing is guarded (a setup file, a page that
   * never loads). It goes into the report's running section as its file, and
   * is returned for the message that says what was stopped.
   */
  stuckFiles(): RunningEntry[] {
    const busy = new Set([...this.running.values()].map((test) => `${test.project ?? ''}\0${test.file}`))
    const now = Date.now()
    const stuck: RunningEntry[] = []
    for (const [id, file] of this.openFiles) {
      if (busy.has(`${file.project ?? ''}\0${file.file}`)) continue
      this.running.set(id, file)
      stuck.push({ ...(file.project === undefined ? {} : { project: file.project }), file: file.file, test: file.test, since: new Date(file.since).toISOString(), elapsedMs: now - file.since })
    }
    return stuck
  }

  /** Stops in hooks of a describe or of the file, and in the import of the file, land on the suite or the module. */
  moduleEnd(module: TestModule): void {
    this.openFiles.delete(module.id)
    const project = this.projectOf(module.project)
    this.collectLeaks(project, module.id, module.moduleId, FILE_ENTRY, module.meta())
    this.collectStops(project, module.id, module.moduleId, FILE_ENTRY, module.errors())
    for (const suite of module.children.allSuites()) this.collectStops(project, suite.id, module.moduleId, suite.fullName, suite.errors())
  }

  /** The run ended: nothing is in flight any more. */
  end(): void {
    this.running.clear()
    this.openFiles.clear()
  }

  /**
   * The run is being stopped from outside. A worker blocked in a system call
   * has not told Vitest what it finished (its updates wait in its event loop),
   * but its journal is on disk: take finished and in-flight tests from there.
   */
  readJournals(journals: readonly LiveJournal[]): void {
    for (const { journal, project: name } of journals) {
      const project = this.nameProjects ? { project: name } : {}
      let text: string
      try {
        text = readFileSync(journal, 'utf8')
      } catch {
        continue
      }
      let entries: ReturnType<typeof parseJournal>
      try {
        entries = parseJournal(text)
      } catch {
        // Another version's journal (WatchdogJournalVersionError): its watch said so already.
        continue
      }
      const started = new Map<string, InFlight>()
      for (const entry of entries) {
        if (entry.kind === 'test') {
          started.set(entry.test, { ...project, file: this.relative(entry.file), test: entry.name, since: entry.at })
          continue
        }
        if (entry.kind !== 'result') continue
        const test = started.get(entry.test)
        started.delete(entry.test)
        if (!test || this.finishedIds.has(entry.test)) continue
        this.finishedIds.add(entry.test)
        const state = entry.result.state
        this.finished.push({ ...project, file: test.file, test: test.test, state: state === 'pass' ? 'passed' : state === 'fail' ? 'failed' : String(state) })
      }
      for (const [id, test] of started) {
        if (!this.running.has(id)) this.running.set(id, test)
      }
    }
  }

  /** The report of the projects `include` accepts (entries that name no project belong to every report). */
  report(include: (project: string | undefined) => boolean = () => true): WatchdogReport {
    const mine = <T extends { project?: string }>(entries: Iterable<T>) => [...entries].filter((entry) => entry.project === undefined || include(entry.project))
    const now = Date.now()
    const running: RunningEntry[] = mine(this.running.values()).map((t) => ({ ...(t.project === undefined ? {} : { project: t.project }), file: t.file, test: t.test, since: new Date(t.since).toISOString(), elapsedMs: now - t.since }))
    return { hangs: mine(this.hangs), leaks: mine(this.leaks), running, finished: mine(this.finished) }
  }

  private collectLeaks(project: { project?: string }, id: string, moduleId: string, name: string, meta: object): void {
    const found = (meta as Record<string, unknown>)[LEAKS_META_KEY] as LeakMetaEntry[] | undefined
    if (!found || this.leaksSeen.has(id)) return
    this.leaksSeen.add(id)
    const here = { file: this.relative(moduleId), test: name }
    for (const { startedBy, ...leak } of found) {
      if (!startedBy) {
        this.leaks.push({ ...project, ...here, ...leak })
        continue
      }
      // From an earlier test: reported for that test, saying when it was found.
      const note = `from an earlier test: created after it ended, while "${here.test}" (${here.file}) ran`
      this.leaks.push({ ...project, file: this.relative(startedBy.file), test: startedBy.test, ...leak, note: leak.note ? `${leak.note}; ${note}` : note, foundDuring: here })
    }
    this.changed()
  }

  /** `passed`: the test passed in the end (a retry), so the stop is no failure of it. */
  private collectStops(project: { project?: string }, id: string, moduleId: string, name: string, errors: ReadonlyArray<unknown> | undefined, passed = false): void {
    if (this.seen.has(id)) return
    for (const error of errors ?? []) {
      const { code, stop, stack } = error as { code?: string; stop?: Stop; stack?: string }
      if ((code !== STOPPED_CODE && code !== CRASHED_CODE) || !stop?.stage) continue
      const entry: HangEntry = {
        ...project,
        ...(stop.crash ? { crash: stop.crash } : {}),
        ...(stop.subject && stop.subject !== 'Test' ? { what: stop.subject } : {}),
        file: this.relative(moduleId),
        test: name,
        stage: stop.stage,
        reason: stop.reason,
        killAfter: stop.killAfter,
        elapsedMs: Math.round(stop.elapsedMs),
        location: stop.location ? { ...stop.location, file: this.relative(stop.location.file) } : null,
        // A browser interrupt keeps its original-coordinates frames in stop.stack (error.stack stays in served ones).
        stack: stop.stack || stack || '',
        note: stopDetail(stop, this.root),
        ...(passed ? { passedOnRetry: true as const } : {}),
      }
      this.hangs.push(entry)
      if (!passed && FRAME.test(stack ?? '')) this.failedWithFrame.add(entry)
      this.seen.add(id)
      this.changed()
    }
  }

  /**
   * A stop decided in the main process with no test result to carry it
   * (browser mode: a page that did not answer was closed, and its file's
   * results with it).
   */
  hostStop(project: TestProject, file: string, test: string, stop: Stop): void {
    this.hangs.push({
      ...this.projectOf(project),
      ...(stop.subject !== 'Test' ? { what: stop.subject } : {}),
      file: this.relative(file),
      test,
      stage: stop.stage,
      reason: stop.reason,
      killAfter: stop.killAfter,
      elapsedMs: Math.round(stop.elapsedMs),
      location: null,
      stack: '',
      note: stopDetail(stop, this.root),
    })
    this.changed()
  }

  private projectOf(project: TestProject): { project?: string } {
    return this.nameProjects ? { project: project.name } : {}
  }

  /** Paths as the report gives them; each test's file is asked for twice, so each path is worked out once. */
  private readonly relativePaths = new Map<string, string>()

  relative(path: string): string {
    let found = this.relativePaths.get(path)
    if (found === undefined) {
      found = relative(this.root, path) || path
      this.relativePaths.set(path, found)
    }
    return found
  }
}
