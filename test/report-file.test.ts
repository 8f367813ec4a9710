import { readdirSync } from 'node:fs'
import { expect, test } from 'vitest'
import { expectStatus, runFixture } from './support/run-fixture.js'

// The report cannot be written (outputFile is a directory): one clear error,
// every result kept, no temporary file left, no crash, and a run whose tests
// all passed fails, since the report CI asked for is missing.
test('an unwritable report is said once, the results stand, the run fails, nothing is left', async () => {
  let leftovers: string[] = []
  const run = await runFixture('report-unwritable', {
    during: async (child) => {
      await new Promise((resolve) => child.on('close', resolve))
      const arg = (child as unknown as { spawnargs: string[] }).spawnargs.find((a) => a.startsWith('--outputFile.json='))!
      const dir = arg.slice('--outputFile.json='.length).replace(/\/results\.json$/, '')
      leftovers = readdirSync(dir).filter((name) => name.endsWith('.tmp'))
    },
  })
  expect(run.code).toBe(1)
  expect(run.output.match(/vitest-watchdog: cannot write the report to .* \(option outputFile\): EISDIR/g)).toHaveLength(1)
  expect(run.output).not.toMatch(/Unhandled|TypeError|at ReportFile/)
  expectStatus(run, 'stops.test.ts > passes', 'passed')
  expect(leftovers).toEqual([])
})
