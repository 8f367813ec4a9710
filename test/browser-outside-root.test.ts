import { mkdirSync, rmSync, symlinkSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { expectStatus, hangOf, outcomeOf, runFixture, type FixtureRun } from './support/run-fixture.js'

// fixtures/browser-outside-root: a package of its own, whose node_modules
// links to this repository (as a symlinked node_modules or `npm link` does),
// and whose server.fs.allow is its own folder: the watchdog's dist/ is
// outside Vite's serving allow list, yet its page code must load.
const repo = resolve(import.meta.dirname, '..')
const modules = join(repo, 'fixtures', 'browser-outside-root', 'node_modules')
let run: FixtureRun

beforeAll(async () => {
  rmSync(modules, { recursive: true, force: true })
  mkdirSync(modules)
  symlinkSync(repo, join(modules, 'vitest-watchdog'))
  run = await runFixture('browser-outside-root')
})

// rm removes the link, never what it points to.
afterAll(() => rmSync(modules, { recursive: true, force: true }))

test('the page code loads from outside the allow list: the tests run, and a spin is stopped at stage interrupt', () => {
  expect(run.output).not.toContain('outside of Vite serving allow list')
  expectStatus(run, 'spin.test.ts > passes first', 'passed')
  expectStatus(run, 'spin.test.ts > spins forever', 'failed')
  expectStatus(run, 'spin.test.ts > runs next in the same page', 'passed')
  expect(hangOf(run, 'spin.test.ts', 'spins forever')).toMatchObject({ stage: 'interrupt', reason: 'interrupted', location: { file: 'spin.test.ts', line: 9 } })
})

test("the printed code frame's caret sits at the reported column", () => {
  const message = outcomeOf(run, 'spin.test.ts > spins forever').failureMessages[0] ?? ''
  const [, line, column] = /interrupted it at spin\.test\.ts:(\d+):(\d+)\./.exec(message) ?? []
  expect(line).toBe('9')
  const lines = run.output.split('\n')
  // The frame's line is `    9|   while (true) n++`, the caret's `     |   ^` under it.
  const at = lines.findIndex((text) => /^ +9\| +while \(true\) n\+\+$/.test(text))
  expect(at, run.output).toBeGreaterThan(-1)
  const code = lines[at]!
  const caret = lines[at + 1]!
  const start = code.indexOf('|') + 1
  expect(caret.indexOf('^') - start, `${code}\n${caret}`).toBe(Number(column))
  expect(code[caret.indexOf('^')]).toBe('w')
})
