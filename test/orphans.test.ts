import { expect, test } from 'vitest'
import { hangOf, outcomeOf, runFixture } from './support/run-fixture.js'

// fixtures/orphans: processes whose parent (a shell the test started) is
// gone, so they are nobody's descendant any more. runFixture fails the run
// if any process carrying its mark outlives it.
test.each(['forks', 'threads'])('pool %s: a re-parented grandchild of a test dies with the run, whether its test finished or was stopped', async (pool) => {
  const run = await runFixture('orphans', { args: [`--pool=${pool}`] })
  expect(outcomeOf(run, 'orphans.test.ts > a shell leaves a background sleep behind and exits').status).toBe('passed')
  expect(hangOf(run, 'orphans.test.ts', 'blocks in execSync on a shell whose background sleep outlives it')).toMatchObject({ stage: 'kill', reason: 'child-killed' })
  expect(outcomeOf(run, 'orphans.test.ts > runs after it').status).toBe('passed')
})
