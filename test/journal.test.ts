import { expect, test } from 'vitest'
import { expectStatus, hangOf, runFixture } from './support/run-fixture.js'

test('a journal of another version is refused with a clear error, once, and the worker keeps its own abort stage', async () => {
  const run = await runFixture('journal-version')
  expectStatus(run, 'version.test.ts > writes a journal header of another version', 'passed')
  expectStatus(run, 'version.test.ts > waits on a promise that never settles', 'failed')
  expect(hangOf(run, 'version.test.ts', 'waits on a promise that never settles')).toMatchObject({ stage: 'abort', reason: 'never-settled' })
  const refusals = run.output.split('\n').filter((line) => line.includes('journal has version'))
  expect(refusals).toEqual(["vitest-watchdog: a worker's journal has version 99, but this main process reads version 1: the main process and the worker loaded different builds of vitest-watchdog. Reinstall or rebuild it and run again."])
})
