import { beforeAll, describe, expect, test } from 'vitest'
import { hangOf, outcomeOf, runFixture, type FixtureRun } from './support/run-fixture.js'

// fixtures/hooks: testTimeout 400, hookTimeout 450, grace 300.
describe('hooks are stopped by the same ladder, with the hook timeout as budget', () => {
  let run: FixtureRun
  beforeAll(async () => {
    run = await runFixture('hooks')
  })

  test('a spinning beforeEach: interrupted, named, at its line; the other suite runs', () => {
    const outcome = outcomeOf(run, 'before-each.test.ts > spinning beforeEach > never gets to run')
    expect(outcome.status).toBe('failed')
    expect(outcome.failureMessages[0]).toMatch(/^TestStoppedError: Hook "beforeEach" of test "spinning beforeEach > never gets to run" timed out after 450ms \(hookTimeout\)\. vitest-watchdog interrupted it at before-each\.test\.ts:5:5\./)
    expect(outcomeOf(run, 'before-each.test.ts > another suite > still runs and passes').status).toBe('passed')
  })

  test('a spinning afterAll with a describe budget: interrupted; the suite reports the error, the other suite runs', () => {
    expect(outcomeOf(run, 'after-all.test.ts > spinning afterAll > passes before the hook').status).toBe('passed')
    expect(outcomeOf(run, 'after-all.test.ts > another suite > still runs and passes').status).toBe('passed')
    expect(hangOf(run, 'after-all.test.ts', 'spinning afterAll')).toMatchObject({
      stage: 'interrupt',
      killAfter: 350,
      what: 'Hook "afterAll" of describe "spinning afterAll"',
      location: { file: 'after-all.test.ts', line: 6 },
    })
    expect(run.output).toContain('Hook "afterAll" of describe "spinning afterAll" timed out after')
  })

  test('a beforeAll that never settles: stopped at abort; its tests are skipped, the other suite runs', () => {
    expect(hangOf(run, 'before-all-async.test.ts', 'beforeAll that never settles')).toMatchObject({ stage: 'abort', killAfter: 450, location: null })
    expect(outcomeOf(run, 'before-all-async.test.ts > beforeAll that never settles > is skipped by Vitest after the hook fails').status).toBe('skipped')
    expect(outcomeOf(run, 'before-all-async.test.ts > another suite > still runs and passes').status).toBe('passed')
  })

  test('a spinning onTestFinished: interrupted, and the next test runs', () => {
    const outcome = outcomeOf(run, 'on-test-finished.test.ts > registers a spinning onTestFinished')
    expect(outcome.failureMessages[0]).toContain('Hook "onTestFinished" of test "registers a spinning onTestFinished" timed out after')
    expect(outcome.failureMessages[0]).toContain('vitest-watchdog interrupted it at on-test-finished.test.ts:5:5.')
    expect(outcomeOf(run, 'on-test-finished.test.ts > runs next').status).toBe('passed')
  })
})

describe('imports that never finish are stopped within the import budget', () => {
  let run: FixtureRun
  beforeAll(async () => {
    run = await runFixture('imports')
  })

  test('a top-level loop: the file fails at the loop line (original coordinates)', () => {
    expect(run.output).toMatch(/TestStoppedError: Import of "top-level-loop\.test\.ts" timed out after 500ms \(watchdog\(\{ importKillAfter \}\)\)\. vitest-watchdog interrupted it at top-level-loop\.test\.ts:9:1\./)
    expect(hangOf(run, 'top-level-loop.test.ts', '(file)')).toMatchObject({ stage: 'interrupt', location: { file: 'top-level-loop.test.ts', line: 9 } })
  })

  test('a top-level await that never settles: the file fails at stage abort', () => {
    expect(hangOf(run, 'top-level-await.test.ts', '(file)')).toMatchObject({ stage: 'abort', killAfter: 500, location: null, what: 'Import of "top-level-await.test.ts"' })
  })

  test('the other files are unaffected', () => {
    expect(outcomeOf(run, 'fine.test.ts > a file next to them is unaffected').status).toBe('passed')
    expect(run.tests.size).toBe(1)
  })
})
