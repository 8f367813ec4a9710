import { expect, test } from 'vitest'
import { expectStatus, hangOf, runFixture } from './support/run-fixture.js'

// grace: 0 leaves no time between stages. A thread that runs JavaScript still
// answers the inspector at once, so it is interrupted, not mistaken for one
// blocked in a system call; an idle one ends at its budget; a blocked one is
// freed by killing the child it waits on.
test('grace 0: each hang gets its own stage, and the file goes on', async () => {
  const run = await runFixture('grace-zero')
  expect(hangOf(run, 'stages.test.ts', 'spins')).toMatchObject({ stage: 'interrupt', reason: 'interrupted', location: { line: 5 } })
  expect(hangOf(run, 'stages.test.ts', 'waits forever')).toMatchObject({ stage: 'abort', reason: 'never-settled', location: null })
  expect(hangOf(run, 'stages.test.ts', 'blocks in a system call')).toMatchObject({ stage: 'kill', reason: 'child-killed' })
  expectStatus(run, 'stages.test.ts > passes after all three', 'passed')
  expect(run.report?.hangs).toHaveLength(3)
})
