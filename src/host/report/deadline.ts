import type { TestProject } from 'vitest/node'
import { PROVIDE_KEY, type WorkerSettings } from '../../shared/options.js'
import { realClearTimeout, realSetTimeout } from '../../shared/clock.js'

/**
 * After the run deadline, the ladder in the workers needs up to three grace
 * periods (abort, interrupt, kill) plus a worker restart; past this margin on
 * top, the main process stops everything itself.
 */
export const HARD_STOP_MARGIN_MS = 5_000

/** A project the watchdog guards, with what its workers are told. */
export interface GuardedProject {
  project: TestProject
  settings: WorkerSettings
  /** watchdog({ runTimeout }) of this project, in ms. */
  runTimeout: number | undefined
}

/**
 * `runTimeout` for one run: the deadline is counted from the run's start (in
 * watch mode, each rerun has a deadline of its own). Each guarded project's
 * workers learn it through Vitest's provided context, which Vitest sends with
 * every run request, so a worker kept across reruns (isolate: false) gets the
 * current one too.
 */
export class RunDeadline {
  private deadlines: Array<{ at: number; grace: number }> = []
  private hardStop: ReturnType<typeof setTimeout> | undefined

  /** The run starts now: tells every project its deadline, and arms the main process's own stop well past the last one. */
  start(projects: Iterable<GuardedProject>, onHardStop: (afterMs: number) => void): void {
    this.clear()
    const now = Date.now()
    this.deadlines = []
    for (const { project, settings, runTimeout } of projects) {
      const runDeadline = runTimeout ? now + runTimeout : null
      project.provide(PROVIDE_KEY as never, { ...settings, runDeadline } as never)
      if (runDeadline !== null) this.deadlines.push({ at: runDeadline, grace: settings.grace })
    }
    if (this.deadlines.length === 0) return
    const last = Math.max(...this.deadlines.map((d) => d.at + 3 * d.grace + HARD_STOP_MARGIN_MS))
    const latest = Math.max(...this.deadlines.map((d) => d.at))
    this.hardStop = realSetTimeout(() => onHardStop(last - latest), Math.max(0, last - Date.now()))
    this.hardStop.unref()
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
