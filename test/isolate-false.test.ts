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

test('files a worker finished before it was killed are not run or printed again; the resumed file shows its true duration', async () => {
  const run = await runFixture('isolate-false')
  // Each file once, with its tests, in the default reporter's output.
  for (const file of ['1-crash-at-import', '2-after', '3-last']) expect(run.output.match(new RegExp(`^ [❯✓] ${file}\\.test\\.ts `, 'gm')), run.output).toHaveLength(1)
  const resumed = run.output.match(/^ ❯ 2-after\.test\.ts \(3 tests \| 1 failed\) (\d+)ms$/m)
  const killed = run.output.match(/^   × blocks in a system call (\d+)ms$/m)
  expect(resumed, run.output).not.toBeNull()
  expect(killed, run.output).not.toBeNull()
  expect(Number(resumed![1])).toBeGreaterThanOrEqual(Number(killed![1]))
  expect(run.report?.finished?.map((f) => `${f.file} > ${f.test}`).sort()).toEqual([
    '1-crash-at-import.test.ts > is not run: its worker died importing it',
    '2-after.test.ts > blocks in a system call',
    '2-after.test.ts > runs after the kill',
    '2-after.test.ts > runs in the worker that took over',
    '3-last.test.ts > runs too: nothing earlier files recorded is applied to it',
  ])
})
