import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import type { RunnerTestCase } from 'vitest'
import { resolveBudget, vitestBudget } from '../../src/shared/budget.js'
import { fitsTimer, MAX_TIMER_DELAY_MS, realClearTimeout, stageTimer } from '../../src/shared/clock.js'
import { WatchdogOptionError } from '../../src/shared/errors.js'
import { resolveOptions, type WorkerSettings } from '../../src/shared/options.js'
import { RunDeadline, type GuardedProject } from '../../src/host/report/deadline.js'

// Pure logic, no Vitest run: the edges of "a stage past the longest timer never comes".
const MAX = 2 ** 31 - 1
const settings = (killAfter: number | null, grace = 1_000): WorkerSettings => ({ killAfter, grace, importKillAfter: null, leaks: 'report', runDeadline: null })
const aTest = { type: 'test', name: 't', meta: {} } as unknown as RunnerTestCase

let warnings: string[] = []
const onWarning = (warning: Error) => warnings.push(warning.name)
beforeEach(() => {
  warnings = []
  process.on('warning', onWarning)
})
afterEach(() => {
  process.off('warning', onWarning)
})

describe('stageTimer', () => {
  test('the limit is the longest delay a timer takes', () => {
    expect(MAX_TIMER_DELAY_MS).toBe(MAX)
    expect([fitsTimer(MAX), fitsTimer(MAX + 1), fitsTimer(Infinity), fitsTimer(Number.NaN), fitsTimer(0)]).toEqual([true, false, false, false, true])
  })

  test.each([[MAX + 1], [Infinity], [Number.NaN], [MAX + 1_000]])('a stage at %s ms never comes: no timer, no warning', async (ms) => {
    let fired = false
    expect(stageTimer(() => (fired = true), ms)).toBeUndefined()
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(fired).toBe(false)
    expect(warnings).toEqual([])
  })

  test('whether a stage comes is judged from the run start, not from now: a run seen late keeps its verdict', async () => {
    // Past the limit from the start, though the delay left would fit: never.
    expect(stageTimer(() => {}, MAX + 10, 1_000)).toBeUndefined()
    // Within it from the start: armed (and cleared here).
    const atLimit = stageTimer(() => {}, MAX, 10)
    expect(atLimit).toBeDefined()
    realClearTimeout(atLimit)
    // Already due: fires at once.
    await new Promise((resolve) => stageTimer(() => resolve(null), 100, 5_000))
    expect(warnings).toEqual([])
  })
})

describe("Vitest's timeouts as budgets", () => {
  test.each([
    [Infinity, 0],
    [0, 0],
    [-1, 0],
    [Number.NaN, 0],
    [400, 400],
    [MAX, MAX],
    // Finite: kept; its stages never come (stageTimer).
    [MAX + 1, MAX + 1],
  ])('timeout %s: budget %s ms (0: no stage is armed, as Vitest arms no timer)', (timeout, ms) => {
    expect(vitestBudget({ ms: timeout, source: 'testTimeout' })).toEqual({ ms, source: 'testTimeout' })
  })

  test("an infinite Vitest timeout is no budget; the plugin's killAfter still wins over it", () => {
    expect(resolveBudget(aTest, settings(null), { ms: Infinity, source: "the test's timeout" }, undefined)).toEqual({ ms: 0, source: "the test's timeout" })
    expect(resolveBudget(aTest, settings(300), { ms: Infinity, source: 'testTimeout' }, undefined)).toEqual({ ms: 300, source: 'watchdog({ killAfter })' })
  })
})

describe('plugin options: each value checked alone, sums accepted', () => {
  test('each option takes up to 2^31-1 and refuses more; killAfter + grace past it is accepted, and is a stage that never comes', () => {
    for (const option of ['grace', 'killAfter', 'importKillAfter', 'runTimeout']) {
      expect(resolveOptions({ [option]: MAX })).toMatchObject({ [option]: MAX })
      for (const value of [MAX + 1, Infinity]) {
        expect(() => resolveOptions({ [option]: value })).toThrow(new WatchdogOptionError(option, value, 'watchdog() plugin options', `a finite number of milliseconds from 0 to ${MAX} (the longest timer Node can set)`))
      }
    }
    const { killAfter, grace } = resolveOptions({ killAfter: 300, grace: MAX })
    const abort = stageTimer(() => {}, killAfter!)
    expect(abort).toBeDefined()
    realClearTimeout(abort)
    expect(stageTimer(() => {}, killAfter! + grace)).toBeUndefined()
  })
})

describe('the run deadline', () => {
  test('a hard stop past the longest timer (runTimeout + 3 graces) never comes: it does not fire at once', async () => {
    const deadline = new RunDeadline()
    let hardStops = 0
    const project = {} as GuardedProject['project']
    try {
      const at = deadline.start([{ project, settings: settings(null, MAX), runTimeout: 60_000 }], () => hardStops++)
      expect(at.get(project)).toBeGreaterThan(Date.now())
      await new Promise((resolve) => setTimeout(resolve, 20))
      expect(hardStops).toBe(0)
      expect(warnings).toEqual([])
    } finally {
      deadline.clear()
    }
  })
})
