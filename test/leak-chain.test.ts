import { beforeAll, describe, expect, test } from 'vitest'
import { expectStatus, runFixture, type FixtureRun } from './support/run-fixture.js'

// fixtures/leaks-chain, isolate: false (one worker runs every file):
// 1-pool.test.ts starts a pool (shaped like tinypool: a process that exits
// unasked is a crash, thrown uncaught) and a pool that recycles its process,
// and leaves both running; 2-later.test.ts runs while they are up;
// 3-producer.test.ts leaves a producer loop running through the next test.
describe.each([
  ['forks', []],
  ['threads', ['--pool=threads']],
])('under %s', (_pool, args) => {
  let run: FixtureRun
  beforeAll(async () => {
    run = await runFixture('leaks-chain', { args })
  })

  test('leaked children are reported when their test ends but killed only when the worker stops: the suite stays green', () => {
    expect(run.output).not.toContain('Worker exited unexpectedly')
    expectStatus(run, "2-later.test.ts > runs while the earlier file's pool is still up: its processes were not killed under it", 'passed')
    expect([...run.tests.values()].map((t) => t.status)).toEqual(Array(7).fill('passed'))
    expect(run.code, run.output).toBe(0)
    const pool = run.report?.leaks.filter((l) => l.test === 'starts a pool of two processes and leaves it running')
    expect(pool?.map((l) => `${l.type} at ${l.location?.file}:${l.location?.line}`)).toEqual(['ChildProcess at pool.ts:28', 'ChildProcess at pool.ts:28'])
    expect(pool?.[0]!.cleanup).toBe('killed (with its descendants) when its worker stops: after its file, or with isolate: false when Vitest stops the worker')
  })

  test("a process a pool respawns is the leak of the test that started the pool, from an earlier test, not the running test's", () => {
    expect(run.report?.leaks.filter((l) => l.file === '2-later.test.ts')).toEqual([])
    const recycling = run.report?.leaks.filter((l) => l.test === 'starts a pool that recycles its process and leaves it running')
    expect(recycling?.map((l) => `${l.type} at ${l.location?.line}`)).toEqual(['ChildProcess at 28', 'Interval at 19', 'ChildProcess at 28'])
    // The pool goes on respawning through later tests: reported once, when the first of them ends.
    expect(recycling?.[2]).toMatchObject({ file: '1-pool.test.ts', foundDuring: { file: '2-later.test.ts' } })
    expect(recycling?.[2]!.note).toContain('from an earlier test')
  })

  test('timers of a producer loop an earlier test started are that test\'s leak, reported once', () => {
    expect(run.report?.leaks.filter((l) => l.file === '3-producer.test.ts').map((l) => `${l.test}: ${l.type} at ${l.location?.line}${l.foundDuring ? ` (found during ${l.foundDuring.test})` : ''}`)).toEqual([
      'starts a producer loop and leaves it running: Timeout at 9',
      'starts a producer loop and leaves it running: Timeout at 9 (found during an unrelated test, while the loop goes on)',
    ])
  })
})
