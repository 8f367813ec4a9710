import { expect, test } from 'vitest'
import { expectStatus, hangOf, runFixture } from './support/run-fixture.js'

// isolate: false: one worker runs file after file. A death in one file
// concerns that file only.
test('a crash importing one file does not mark the later files "not run"; a kill in one file leaves the next alone', async () => {
  const run = await runFixture('isolate-false')
  expectStatus(run, '1-crash-at-import.test.ts > is not run: its worker died importing it', 'skipped')
  expectStatus(run, '2-after.test.ts > runs in the worker that took over', 'passed')
  expect(hangOf(run, '2-after.test.ts', 'blocks in a system call')).toMatchObject({ stage: 'kill', reason: 'blocked-outside-js' })
  expectStatus(run, '2-after.test.ts > runs after the kill', 'passed')
  expectStatus(run, '3-last.test.ts > runs too: nothing earlier files recorded is applied to it', 'passed')
})
