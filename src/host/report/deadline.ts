import type { TestProject } from 'vitest/node'
import type { WorkerSettings } from '../../shared/options.js'
import { realClearTimeout, stageTimer } from '../../shared/clock.js'

/**
 * After the run deadline, the ladder in the workers needs up to three grace
 * periods (abort, interrupt, kill) plus a worker restart; past this margin on
 * top, the main process stops everything itself.
 */
const HARD_STOP_MARGIN_MS = 5_000

/** A project the watchdog guards, with what its workers are told. */
export interface GuardedProject {
  project: TestProject
  settings: WorkerSettings
  /** watchdog({ runTimeout }) of this project, in ms. */
  runTimeout: number | undefined
}

/**
 * `runTimeout` for one run: the deadline is counted from the run's start (in
 * watch mode, each rerun has a deadline of its own). The reporter gives each
 * guarded project's workers theirs (reporter.ts, onTestRunStart).
 */
export class RunDeadline {
  private deadlines: Array<{ at: number; grace: number }> = []
  private hardStop: ReturnType<typeof setTimeout> | undefined

  /**
   * The run starts now: the deadline of each project (epoch ms, or null
   * without runTimeout), and the main process's own stop armed well past the last one.
   */
  start(projects: Iterable<GuardedProject>, onHardStop: (afterMs: number) => void): Map<TestProject, number | null> {
    this.clear()
    const now = Date.now()
    const deadlines = new Map<TestProject, number | null>()
    this.deadlines = []
    for (const { project, settings, runTimeout } of projects) {
      const at = runTimeout ? now + runTimeout : null
      deadlines.set(project, at)
      if (at !== null) this.deadlines.push({ at, grace: settings.grace })
    }
    if (this.deadlines.length === 0) return deadlines
    const last = Math.max(...this.deadlines.map((d) => d.at + 3 * d.grace + HARD_STOP_MARGIN_MS))
    const latest = Math.max(...this.deadlines.map((d) => d.at))
    // Past the longest timer (runTimeout plus three huge graces), it never comes, as every such stage.
    this.hardStop = stageTimer(() => onHardStop(last - latest), last - now)
    return deadlines
  }

  /** A deadline of this run has passed. */
  passed(): boolean {
    const now = Date.now()
    return this.deadlines.some((d) => now >= d.at)
  }

  /** The run ended (or a new one starts): its hard stop is off. */
  clear(): void {
    if (this.hardStop) realClearTimeout(this.hardStop)
    this.hardStop = undefined
  }
}
