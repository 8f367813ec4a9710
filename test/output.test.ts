import { expect, test } from 'vitest'
import { hangOf, outcomeOf, runFixture } from './support/run-fixture.js'

/** Vitest's output with what varies from run to run (durations, the clock) taken out. */
function steady(output: string): string {
  return output
    .split('\n')
    .filter((line) => !/^\s*(Start at|Duration)\s/.test(line))
    .join('\n')
    .replace(/\b\d+ms\b/g, '<ms>')
    .replace(/watchdog-test-\w+/g, '<dir>')
}

for (const pool of ['forks', 'threads']) {
  test(`a failing test prints exactly what it prints without the plugin (${pool})`, async () => {
    const args = [`--pool=${pool}`]
    const [guarded, plain] = await Promise.all([runFixture('output', { args }), runFixture('output', { args, env: { WATCHDOG_OFF: '1' } })])
    expect(guarded.code).toBe(1)
    expect(guarded.output).toContain('AssertionError: expected 1 to be 2')
    expect(guarded.output).not.toMatch(/dist\/(worker|browser)|vitest-watchdog/)
    expect(steady(guarded.output)).toBe(steady(plain.output))
    expect(guarded.report).toMatchObject({ hangs: [], leaks: [] })
  })
}

for (const pool of ['forks', 'threads']) {
  test(`a timeout passed to one test or hook is its budget, and each stop is reported once (${pool})`, async () => {
    const run = await runFixture('output', { args: [`--pool=${pool}`], env: { WATCHDOG_FILES: 'timeouts.test.ts' } })
    expect(run.code).toBe(1)
    // The hook's 1000 ms, not hookTimeout's 10 s.
    expect(hangOf(run, 'timeouts.test.ts', 'spins past its own timeout')).toMatchObject({ stage: 'interrupt', reason: 'interrupted', killAfter: 1500, location: { line: 4 } })
    expect(hangOf(run, 'timeouts.test.ts', 'a beforeAll with its own timeout')).toMatchObject({ stage: 'interrupt', reason: 'interrupted', killAfter: 1000, location: { line: 9 } })
    // Vitest's own timer for that timeout never fires after the stop.
    expect(run.output).not.toMatch(/Unhandled|timed out in \d+ms|Errors\s+\d+ error/)
    expect(outcomeOf(run, 'timeouts.test.ts > spins past its own timeout').failureMessages).toHaveLength(1)
  })
}
