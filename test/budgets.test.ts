import { beforeAll, expect, test } from 'vitest'
import { hangOf, outcomeOf, runFixture, type FixtureRun } from './support/run-fixture.js'

// fixtures/budgets: plugin killAfter 300, tag "slow" 290, testTimeout 400.
// Every hung test records the budget it was stopped at; the closest wins.
let run: FixtureRun

beforeAll(async () => {
  run = await runFixture('budgets')
})

const file = 'budgets.test.ts'

test.each([
  ['raw meta', 250, 'meta of test "raw meta"'],
  ['killAfter() helper', 260, 'meta of test "killAfter() helper"'],
  ['spread with other options', 265, 'meta of test "spread with other options"'],
  ['suite budget > inherits the describe budget', 270, 'meta of describe "suite budget"'],
  ['suite budget > its own budget wins over the describe', 280, 'meta of test'],
  ['suite budget > nested without a budget > inherits from the outer describe', 270, 'meta of describe "suite budget"'],
  ['tag budget', 290, 'meta of tag "slow"'],
  ['plugin budget', 300, 'watchdog({ killAfter })'],
  ['plugin budget beats a longer timeout argument', 300, 'watchdog({ killAfter })'],
])('%s: stopped at %ims, and the message says where the budget came from', (name, budget, source) => {
  expect(hangOf(run, file, name)).toMatchObject({ stage: 'abort', killAfter: budget })
  const message = outcomeOf(run, `${file} > ${name}`).failureMessages[0]
  expect(message).toContain(`timed out after ${budget}ms (${source}`)
})

test('a busy loop is interrupted at its own budget', () => {
  expect(hangOf(run, file, 'a busy loop gets the same budget')).toMatchObject({ stage: 'interrupt', killAfter: 310, location: { file, line: 23 } })
})

test('killAfter above testTimeout is the budget: the slow test passes', () => {
  expect(outcomeOf(run, `${file} > killAfter longer than testTimeout lets a slow test pass`).status).toBe('passed')
  expect(run.report?.hangs).toHaveLength(10)
})
