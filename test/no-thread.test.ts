import { describe, expect, test } from 'vitest'
import { expectStatus, hangOf, runFixture } from './support/run-fixture.js'

// The watchdog costs a worker nothing it does not already have: the ladder is
// driven from the main process, and no thread is started inside the worker.
test('a worker under the watchdog has exactly the OS threads of a plain Vitest worker', async () => {
  const plain = await runFixture('no-thread', { env: { WATCHDOG_PLAIN: '1' }, keep: ['threads.json'] })
  const guarded = await runFixture('no-thread', { keep: ['threads.json'] })
  const count = (run: typeof plain) => (JSON.parse(run.kept['threads.json'] ?? 'null') as string[] | null)?.length
  expect(count(plain)).toBeGreaterThan(0)
  expect(count(guarded)).toBe(count(plain))
})

// @vitest/coverage-v8 keeps an inspector session inside each worker: a stop
// must not disturb it, and what it counted before and after the stop is kept:
// around an interrupt, and around a kill of the child a test was blocked on
// (the worker, and its coverage, live on).
describe.each(['forks', 'threads'])('with @vitest/coverage-v8, pool %s', (pool) => {
  test('the loop is interrupted, the blocked execSync freed, the files go on, and coverage counts code before and after each stop', async () => {
    const run = await runFixture('coverage', { args: [`--pool=${pool}`], keep: ['coverage/coverage-final.json'] })
    expectStatus(run, 'spin.test.ts > runs before the loop', 'passed')
    expectStatus(run, 'spin.test.ts > spins', 'failed')
    expectStatus(run, 'spin.test.ts > runs after the loop, in the same worker', 'passed')
    expect(hangOf(run, 'spin.test.ts', 'spins')).toMatchObject({ stage: 'interrupt', reason: 'interrupted', location: { file: 'spin.test.ts', line: 9 } })
    expect(hangOf(run, 'sleep.test.ts', 'blocks in execSync after counting')).toMatchObject({ stage: 'kill', reason: 'child-killed' })
    expectStatus(run, 'sleep.test.ts > counts again in the same worker', 'passed')
    const coverage = JSON.parse(run.kept['coverage/coverage-final.json'] ?? '{}') as Record<string, { fnMap: Record<string, { name: string }>; f: Record<string, number> }>
    const counted = Object.entries(coverage).find(([file]) => file.endsWith('counted.ts'))?.[1]
    expect(counted, `no coverage for counted.ts:\n${run.output}`).toBeDefined()
    const calls = Object.fromEntries(Object.entries(counted!.fnMap).map(([id, fn]) => [fn.name, counted!.f[id]]))
    expect(calls).toEqual({ beforeSpin: 1, afterSpin: 1, neverCalled: 0, beforeSleep: 1, afterSleep: 1 })
  })
})
