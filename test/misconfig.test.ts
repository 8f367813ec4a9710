import { describe, expect, test } from 'vitest'
import { runFixture } from './support/run-fixture.js'

const occurrences = (text: string, part: string) => text.split(part).length - 1

describe('a config the watchdog cannot honour is said once at start, naming the fix', () => {
  test('testTimeout 0 with no killAfter: one warning that tests have no budget', async () => {
    const run = await runFixture('misconfig', { env: { WATCHDOG_MISCONFIG: 'no-budget' } })
    expect(run.code, run.output).toBe(0)
    const warning = 'vitest-watchdog: testTimeout is 0, so tests have no budget and a hung test is never stopped. Set watchdog({ killAfter: <ms> }) or a testTimeout above 0.'
    expect(occurrences(run.output, warning), run.output).toBe(1)
    expect(run.output.indexOf(warning)).toBeLessThan(run.output.indexOf('RUN'))
  })

  test.each([
    ['test-plugins', 'watchdog() is in test.plugins, which Vitest ignores'],
    ['project', 'watchdog() is in test.plugins of the inline project "unit" in test.projects, which Vitest ignores'],
  ])('watchdog() in %s fails the run at start', async (mode, where) => {
    const run = await runFixture('misconfig', { env: { WATCHDOG_MISCONFIG: mode } })
    expect(run.code).toBe(1)
    expect(run.output).toContain('Startup Error')
    expect(run.output).toContain(`WatchdogMisplacedPluginError: vitest-watchdog: ${where}`)
    expect(run.output).toContain("code: 'ERR_WATCHDOG_MISPLACED_PLUGIN'")
    expect(run.output).toContain('Move it to `plugins: [watchdog()]`')
    expect(run.tests.size).toBe(0)
  })

  test('watchdog() listed twice with different options: one warning naming both, and which applies', async () => {
    const run = await runFixture('misconfig', { env: { WATCHDOG_MISCONFIG: 'twice' } })
    expect(run.code, run.output).toBe(0)
    const warning = `vitest-watchdog: watchdog() is listed 2 times in plugins, with different options: {"grace":300}, {"grace":500,"outputFile":${JSON.stringify(run.dir + '/watchdog-report.json')}}. Only the last one's applies`
    expect(occurrences(run.output, warning), run.output).toBe(1)
  })
})
