import { expect, test } from 'vitest'
import { expectStatus, hangOf, outcomeOf, runFixture } from './support/run-fixture.js'

// A browser with no Chrome DevTools Protocol session (Firefox, WebKit): the
// ladder's path without CDP, run in a real browser (fixtures/browser-no-cdp
// takes Chromium's CDP session away: neither Firefox nor WebKit can be
// installed here).
test('without CDP the page of a spinning test is closed 1 s after the grace period and the file resumes in a fresh page; an idle hung test ends at abort', async () => {
  const run = await runFixture('browser-no-cdp')
  expect(run.code).toBe(1)
  expect(hangOf(run, 'a-spins.test.ts', 'spins where nothing can interrupt it')).toMatchObject({ stage: 'kill', reason: 'inspector-unavailable', killAfter: 400, location: null })
  expect(hangOf(run, 'a-spins.test.ts', 'spins where nothing can interrupt it').note).toContain('This browser gives no Chrome DevTools Protocol session (Firefox, WebKit), so running JavaScript cannot be interrupted, and the page, still busy 1 s after the grace period, was closed.')
  expect(hangOf(run, 'a-spins.test.ts', 'waits on a promise that never settles')).toMatchObject({ stage: 'abort', reason: 'never-settled' })
  expectStatus(run, 'a-spins.test.ts > passes first', 'passed')
  expectStatus(run, 'a-spins.test.ts > comes after', 'passed')
  expectStatus(run, 'b-next-file.test.ts > runs after the resumed file', 'passed')
  expect(run.report?.hangs).toHaveLength(2)
  expect(run.output).not.toContain('Browser connection was closed')
})
