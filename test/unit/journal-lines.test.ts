import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, test } from 'vitest'

// The lines written for every test are put together by hand (worker/journal.ts):
// they must be the very text JSON.stringify gives for the same line.
const dir = mkdtempSync(join(tmpdir(), 'watchdog-journal-lines-'))
const file = join(dir, 'journal.jsonl')
process.env.VITEST_WATCHDOG_JOURNAL = file
const journal = await import('../../src/worker/journal.js')
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const odd = 'a "quoted" \\ back\nslash\t\u2028 \u0001 ✓ 😀'
const task = (id: string, name: string) => ({ id, name, file: { filepath: `/x/${odd}.test.ts` }, suite: undefined }) as never

test('run, done, test and try lines are the text JSON.stringify gives', () => {
  const run = { seq: 7, at: 1700000000123, budget: 5000, budgetSource: odd, grace: 1000, subject: `Hook "beforeEach" of test "${odd}"`, file: `/x/${odd}.ts`, name: odd, hadSignal: true }
  const expected: unknown[] = []
  journal.journalRun({ ...run, test: 'id-1' })
  expected.push({ kind: 'run', ...run, test: 'id-1' })
  journal.journalRun({ ...run, hadSignal: false, budget: 0, suite: 's-1', hook: 'beforeAll' })
  expected.push({ kind: 'run', ...run, hadSignal: false, budget: 0, suite: 's-1', hook: 'beforeAll' })
  journal.journalDone(7)
  expected.push({ kind: 'done', seq: 7 })
  for (const [killAfter, retries, repeats] of [[null, 0, 0], [250, 2, 3], [Infinity, 0, 1]] as const) {
    journal.journalTest(task(`t-${retries}`, odd), killAfter, retries, repeats)
    expected.push({ kind: 'test', test: `t-${retries}`, at: 0, killAfter, file: `/x/${odd}.test.ts`, name: odd, ...(retries > 0 ? { retries } : {}), ...(repeats > 0 ? { repeats } : {}) })
  }
  journal.journalTry(task('t-0', odd), { retry: 0, repeat: 0, retried: 0 })
  expected.push({ kind: 'try', test: 't-0', retry: 0 })
  journal.journalTry(task('t-0', odd), { retry: 1, repeat: 2, retried: 3 })
  expected.push({ kind: 'try', test: 't-0', retry: 1, repeat: 2, retried: 3 })
  journal.flush()
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean).slice(1)
  // `at` of a test line is the clock's: compared apart.
  const written = lines.map((line) => line.replace(/"at":\d+,"killAfter"/, '"at":0,"killAfter"'))
  expect(written).toEqual(expected.map((line) => JSON.stringify(line)))
})
