import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
import { expectStatus, hangOf, runFixture, type FixtureRun } from './support/run-fixture.js'

// A test may replace any built-in (JSON, Array, Map and Promise methods,
// Object.defineProperty/keys, Error.prepareStackTrace and stackTraceLimit,
// process.stderr.write) and leave it so: the watchdog's own code in the
// worker uses the built-ins of its load time. A later spin is still
// interrupted at its line, a blocked test is freed by killing its child,
// nothing else is stopped or called SLOW, and every other test passes.
const dir = resolve(import.meta.dirname, '../fixtures/tamper-intrinsics')
const files = readdirSync(dir).filter((name) => name.endsWith('.test.ts')).sort()
/** Each file's one spinning test, and the line of its loop. */
const spins = files.flatMap((file) => {
  const lines = readFileSync(join(dir, file), 'utf8').split('\n')
  const line = lines.findIndex((text) => text.includes('while (true) {}')) + 1
  if (line === 0) return []
  const name = /test\('([^']+)'/.exec(lines.slice(0, line).reverse().find((text) => text.startsWith('test(')) ?? '')![1]!
  return [{ file, name, line }]
})
const BLOCKED = { file: 'json-parse-blocked.test.ts', name: 'blocks in a system call' }

describe.each([['forks'], ['threads']])('pool %s', (pool) => {
  let run: FixtureRun
  beforeAll(async () => {
    run = await runFixture('tamper-intrinsics', { args: [`--pool=${pool}`] })
  })

  test.each(spins)('$file: the spin is interrupted at its line, every other test passes', ({ file, name, line }) => {
    expect(hangOf(run, file, name)).toMatchObject({ stage: 'interrupt', reason: 'interrupted', location: { file, line } })
    const others = [...run.tests.keys()].filter((key) => key.startsWith(`${file} > `) && key !== `${file} > ${name}`)
    expect(others.length).toBeGreaterThan(0)
    for (const key of others) expectStatus(run, key, 'passed')
  })

  test('JSON.parse mocked: the child a blocked test waited on is killed, the worker reads the note that says so, and the file goes on', () => {
    expect(hangOf(run, BLOCKED.file, BLOCKED.name)).toMatchObject({ stage: 'kill', reason: 'child-killed' })
    expectStatus(run, `${BLOCKED.file} > passes after the kill`, 'passed')
  })

  test('the run ends; only the spins and the blocked test are stopped, and only they are called SLOW', () => {
    const stopped = [...spins, BLOCKED]
    expect(run.signal).toBeNull()
    expect(run.report?.hangs.map((h) => `${h.file} > ${h.test}`).sort()).toEqual(stopped.map((s) => `${s.file} > ${s.name}`).sort())
    for (const slow of run.output.match(/vitest-watchdog: SLOW .*/g) ?? []) expect(stopped.some((s) => slow.includes(`${s.file} > ${s.name} (`))).toBe(true)
  })

  test('a leak is still traced to its line under a test\'s Error.prepareStackTrace and a stackTraceLimit of 0', () => {
    expect(run.report?.leaks.find((l) => l.test === 'leaks an interval')).toMatchObject({ type: 'Interval', location: { file: 'stack-traces.test.ts', line: 14 } })
  })
})
