import { beforeAll, describe, expect, test } from 'vitest'
import { expectStatus, hangOf, outcomeOf, runFixture, type FixtureRun } from './support/run-fixture.js'

// fixtures/tamper-children: tests that take away what the watchdog could be
// tempted to trust in a worker (its environment, its children's environment,
// its scratch directory) and then block in a synchronous call. The runFixture
// harness fails if any of their sleeps outlives the run.
describe.each(['forks', 'threads'])('--pool=%s', (pool) => {
  let run: FixtureRun
  beforeAll(async () => {
    run = await runFixture('tamper-children', { args: [`--pool=${pool}`] })
  })

  test.each([
    'replaces process.env, then blocks in spawnSync',
    'replaces process.env, then blocks in execSync',
  ])('%s: fails at stage kill, reported, and the worker lives on', (name) => {
    const outcome = outcomeOf(run, `env-replaced.test.ts > ${name}`)
    expect(outcome.status).toBe('failed')
    expect(outcome.failureMessages[0]).toMatch(/^TestStoppedError: Test timed out after \d+ms \(testTimeout\)\. vitest-watchdog killed /)
    expect(hangOf(run, 'env-replaced.test.ts', name)).toMatchObject({ stage: 'kill', reason: 'child-killed' })
    // It checks that process.env is still the one the test put there: a fresh worker would have the original.
    expectStatus(run, 'env-replaced.test.ts > runs in the same worker afterwards', 'passed')
  })

  test('a blocking child without the mark, with a marked one elsewhere: the blocking one is found by parentage and killed, not the worker', () => {
    expect(hangOf(run, 'unmarked-child.test.ts', 'blocks on a child that dropped its environment')).toMatchObject({ stage: 'kill', reason: 'child-killed' })
    expectStatus(run, 'unmarked-child.test.ts > runs in the same worker afterwards', 'passed')
  })

  test('the scratch directory removed, then a blocked execSync: stopped, reported, the rest of the file runs, the run ends', () => {
    const name = 'removes the worker scratch directory, then blocks in execSync'
    expect(outcomeOf(run, `scratch-removed.test.ts > ${name}`).failureMessages[0]).toMatch(/^TestStoppedError: Test timed out after \d+ms \(testTimeout\)\. vitest-watchdog killed /)
    expect(hangOf(run, 'scratch-removed.test.ts', name).stage).toBe('kill')
    expectStatus(run, 'scratch-removed.test.ts > passes first', 'passed')
    expectStatus(run, 'scratch-removed.test.ts > runs after the stop', 'passed')
    expect(run.output).not.toContain('could not stop')
  })

  test('every test reported once, in the report too', () => {
    expect(run.tests.size).toBe(10)
    expect(run.report?.finished?.map((entry) => `${entry.file} > ${entry.test}: ${entry.state}`).sort()).toEqual([...run.tests].map(([key, outcome]) => `${key}: ${outcome.status}`).sort())
    expect(run.report?.hangs).toHaveLength(4)
  })
})
