import { beforeAll, expect, test } from 'vitest'
import { hangOf, outcomeOf, runFixture, type FixtureRun } from './support/run-fixture.js'

// fixtures/leaks: leaky.test.ts leaks one resource of each kind per test;
// tidy.test.ts opens and properly closes each kind, some without awaiting the
// close; settle.test.ts leaks a pending timer next to a socket that never
// finishes closing. The harness fails if the leaked `sleep` (or anything else)
// outlives the run.
let run: FixtureRun

beforeAll(async () => {
  run = await runFixture('leaks', { args: ['leaky', 'tidy', 'settle'] })
})

const leakOf = (name: string) => run.report?.leaks.filter((l) => l.file === 'leaky.test.ts' && l.test === name) ?? []

test.each([
  ['leaks a timeout', 'Timeout', 13],
  ['leaks an interval', 'Interval', 17],
  ['leaks a listening server', 'Server', 22],
  ['leaks a client socket', 'Socket', 27],
  ['leaks a child process', 'ChildProcess', 32],
  ['leaks a worker thread', 'Worker', 36],
  ['leaks a file watcher', 'FSWatcher', 41],
  ['leaks a file handle', 'FileHandle', 45],
  ['leaks a server closed while a request is still in flight', 'Server', 71],
  ['leaks a server that is not listening yet', 'Server', 80],
])('%s: one %s, at its creation line, with a stack and a hint', (name, type, line) => {
  const leaks = leakOf(name)
  expect(leaks).toHaveLength(1)
  expect(leaks[0]).toMatchObject({ type, location: { file: 'leaky.test.ts', line } })
  expect(leaks[0]!.stack).toContain(`leaky.test.ts:${line}:`)
  expect(leaks[0]!.hint.length).toBeGreaterThan(10)
  // In report mode the test still passes.
  expect(outcomeOf(run, `leaky.test.ts > ${name}`).status).toBe('passed')
})

test('a child process is one ChildProcess entry (its pipes folded in), killed when its worker stops', () => {
  expect(leakOf('leaks a child process')[0]!.cleanup).toBe('killed (with its descendants) when its worker stops: after its file, or with isolate: false when Vitest stops the worker')
  expect(run.report?.leaks.filter((l) => l.type === 'ChildProcess')).toHaveLength(1)
})

test("leaks: 'fail' fails exactly the test that leaked, with the list in the error", () => {
  const failing = outcomeOf(run, 'leaky.test.ts > in fail mode > fails because it leaks')
  expect(failing.status).toBe('failed')
  expect(failing.failureMessages[0]).toContain("LeakError: Test leaked 1 resource (vitest-watchdog, leaks: 'fail'):")
  expect(failing.failureMessages[0]).toContain('Interval created at leaky.test.ts:52:5')
  expect(outcomeOf(run, 'leaky.test.ts > in fail mode > passes because it cleans up').status).toBe('passed')
  expect([...run.tests.values()].filter((t) => t.status === 'failed')).toHaveLength(2)
})

test('a test stopped by the watchdog still gets its leak report', () => {
  expect(hangOf(run, 'leaky.test.ts', 'leaks an interval, then hangs').stage).toBe('interrupt')
  expect(leakOf('leaks an interval, then hangs')).toMatchObject([{ type: 'Interval', location: { line: 63 } }])
})

test('no false positives: the tidy file, which closes what it opens, reports nothing', () => {
  expect(run.report?.leaks.filter((l) => l.file === 'tidy.test.ts')).toEqual([])
  expect([...run.tests.entries()].filter(([k]) => k.startsWith('tidy.test.ts')).map(([, t]) => t.status)).toEqual(Array(12).fill('passed'))
})

test('the terminal shows a per-test leak summary', () => {
  expect(run.output).toContain('vitest-watchdog: 14 leaked resources in 13 tests')
  expect(run.output).toMatch(/leaky\.test\.ts > leaks a file handle\n\s+FileHandle\s+created at leaky\.test\.ts:45:3: a file handle still open/)
})

test('a pending timer is a leak at once, a closing resource gets the bound: one that never finishes closing is reported after it', () => {
  const name = 'leaks a pending timer while a socket is closing for good'
  expect(run.report?.leaks.filter((l) => l.file === 'settle.test.ts').map((l) => `${l.test}: ${l.type} at ${l.location?.line}`)).toEqual([`${name}: Socket at 26`, `${name}: Timeout at 29`])
  // The check looked at the timer once: it did not wait on it (see the fixture).
  expect(outcomeOf(run, 'settle.test.ts > the leak check looked at the pending timer once, though it waited for the closing socket')).toEqual({ status: 'passed', failureMessages: [] })
})

test('at the end of a file, what concurrent tests left is its leak; what is closing then gets the same bound as in a test', async () => {
  const run = await runFixture('leaks', { args: ['file-end'] })
  expect(run.report?.leaks.map((leak) => `${leak.file} ${leak.test}: ${leak.type} at ${leak.location?.line}`)).toEqual(['file-end.test.ts (file): Interval at 36'])
  expect(outcomeOf(run, 'file-end.test.ts > two tests at once > ends a socket without waiting for the peer').status).toBe('passed')
})
