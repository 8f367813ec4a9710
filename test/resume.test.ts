import { beforeAll, expect, test } from 'vitest'
import { expectStatus, hangOf, outcomeOf, runFixture, type FixtureRun } from './support/run-fixture.js'

// fixtures/resume: what a file keeps when its worker is killed mid-file.
let run: FixtureRun & { kept: Record<string, string> }

beforeAll(async () => {
  run = await runFixture('resume', { args: ['--reporter=junit', '--outputFile.junit={dir}/junit.xml'], keep: ['junit.xml', 'repeats.log', 'repeats-retry.log'] })
})

test('the leak of a test that finished before the kill is still reported', () => {
  expect(run.report?.leaks.filter((leak) => leak.test === 'leaks a timer')).toMatchObject([{ type: 'Timeout', location: { file: 'kept.test.ts', line: 7 } }])
})

test('a result that cannot be serialized (a cycle, a BigInt) keeps its own failure and is not blamed for the kill', () => {
  const outcome = outcomeOf(run, 'kept.test.ts > fails with a cyclic, BigInt-carrying error')
  expect(outcome.status).toBe('failed')
  expect(outcome.failureMessages[0]).toContain('its own failure')
  expect(run.report?.hangs.filter((hang) => hang.file === 'kept.test.ts').map((hang) => `${hang.test}: ${hang.stage} ${hang.reason}`)).toEqual(['blocks in a system call: kill blocked-outside-js'])
})

test('finished tests keep their state and annotations; the killed one fails; the rest runs', () => {
  expectStatus(run, 'kept.test.ts > leaks a timer', 'passed')
  expectStatus(run, 'kept.test.ts > annotates', 'passed')
  expect(run.kept['junit.xml']).toContain('a note that must survive the kill')
  expect(hangOf(run, 'kept.test.ts', 'blocks in a system call').stage).toBe('kill')
  expectStatus(run, 'kept.test.ts > runs after the kill', 'passed')
})

test('a beforeAll that throws when the file resumes keeps the recorded results and the kill; only the tests not run are skipped', () => {
  expectStatus(run, 'before-all-once.test.ts > passes in the first worker', 'passed')
  expect(hangOf(run, 'before-all-once.test.ts', 'blocks reading a FIFO')).toMatchObject({ stage: 'kill', reason: 'blocked-outside-js' })
  expectStatus(run, 'before-all-once.test.ts > blocks reading a FIFO', 'failed')
  expectStatus(run, 'before-all-once.test.ts > would run after the kill', 'skipped')
  expect(run.output).toContain('Error: beforeAll ran twice')
})

test('retry: an attempt whose worker was killed is retried in the fresh worker; the kill stays in the report', () => {
  expectStatus(run, 'retry.test.ts > blocks on its first attempt, passes on the retry', 'passed')
  expect(hangOf(run, 'retry.test.ts', 'blocks on its first attempt, passes on the retry')).toMatchObject({ stage: 'kill', reason: 'blocked-outside-js' })
  expectStatus(run, 'retry.test.ts > runs after it', 'passed')
})

test('repeats: a killed run fails the test, and the repeats after it still run, in the fresh worker', () => {
  const name = 'repeats: its second run is killed, the third still runs'
  expectStatus(run, `repeats.test.ts > ${name}`, 'failed')
  expect(hangOf(run, 'repeats.test.ts', name)).toMatchObject({ stage: 'kill', reason: 'blocked-outside-js' })
  const runs = run.kept['repeats.log']!.trim().split('\n').map((line) => line.split(' pid ')[1])
  expect(runs).toHaveLength(3)
  // The third run happened in another worker than the two before it.
  expect(runs[2]).not.toBe(runs[1])
  expect(runs[1]).toBe(runs[0])
})

test('repeats with retry: the killed attempt is retried, and the next repeat gets its retries back', () => {
  expectStatus(run, 'repeats.test.ts > repeats and retry: the killed attempt is retried, and the next repeat has all its retries', 'passed')
  expect(run.kept['repeats-retry.log']!.trim().split('\n')).toHaveLength(4)
  expectStatus(run, 'repeats.test.ts > runs after them', 'passed')
})
