import { expect, test } from 'vitest'
import { runFixture } from './support/run-fixture.js'

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
