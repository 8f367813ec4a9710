import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { beforeAll, expect, test } from 'vitest'
import { expectStatus, hangOf, runFixture, stuckWithin, type FixtureRun } from './support/run-fixture.js'

// fixtures/browser-tamper-intrinsics: the page's counterpart of
// tamper-intrinsics.test.ts. A test replaces JSON, Array, Map and Promise
// methods or Error's stack hook and limit, and may leave them so: the page's
// guard, leak bookkeeping and resume use the built-ins of load time, so a later
// spin is still interrupted at its line and every other test passes.
const dir = resolve(import.meta.dirname, '../fixtures/browser-tamper-intrinsics')
const spins = readdirSync(dir).filter((name) => name.endsWith('.test.ts')).sort().map((file) => {
  const lines = readFileSync(join(dir, file), 'utf8').split('\n')
  const line = lines.findIndex((text) => text.includes('while (true) {}')) + 1
  const name = /test\('([^']+)'/.exec(lines.slice(0, line).reverse().find((text) => text.startsWith('test(')) ?? '')![1]!
  return { file, name, line }
})

let run: FixtureRun
beforeAll(async () => {
  run = await runFixture('browser-tamper-intrinsics')
})

test.each(spins)('$file: the spin is interrupted at its line, every other test passes', ({ file, name, line }) => {
  expect(hangOf(run, file, name)).toMatchObject({ stage: 'interrupt', reason: 'interrupted', location: stuckWithin(file, [line]) })
  const others = [...run.tests.keys()].filter((key) => key.startsWith(`${file} > `) && key !== `${file} > ${name}`)
  expect(others.length).toBeGreaterThan(0)
  for (const key of others) expectStatus(run, key, 'passed')
})

test('the run ends; only the spins are stopped', () => {
  expect(run.signal).toBeNull()
  expect(run.report?.hangs.map((h) => `${h.file} > ${h.test}`).sort()).toEqual(spins.map((s) => `${s.file} > ${s.name}`).sort())
})

test("a page timer is still traced to its line under a test's Error.prepareStackTrace and a stackTraceLimit of 0", () => {
  expect(run.report?.leaks.find((l) => l.test === 'leaks an interval')).toMatchObject({ type: 'Interval', location: { file: 'stack-traces.test.ts', line: 14 } })
})
