import { rmSync } from 'node:fs'
import { resolve } from 'node:path'
import { afterAll, expect, test } from 'vitest'
import { runFixture } from './support/run-fixture.js'

// stdout belongs to the reporters: `vitest run --reporter=json > out.json`
// must give a file that parses, leaks or not. fixtures/leaks/settle.test.ts
// leaks a timer and a socket; under GitHub Actions the annotations come too.
// Vitest 4 writes the report to stdout; Vitest 5 to a file under .vitest/,
// saying so on stdout: then nothing else may be there.
const WRITTEN_TO = /^(JSON|JUNIT) report written to .*\n?/m

afterAll(() => rmSync(resolve(import.meta.dirname, '../fixtures/leaks/.vitest'), { recursive: true, force: true }))

test('with a reporter writing to stdout, stdout is that reporter\'s output alone; the summary and annotations go to stderr', async () => {
  const run = await runFixture('leaks', { args: ['settle'], reporterArgs: ['--reporter=json'], env: { GITHUB_ACTIONS: 'true', GITHUB_WORKSPACE: '/' } })
  const report = run.stdout.replace(WRITTEN_TO, '')
  if (report !== run.stdout) expect(report.trim(), run.stdout).toBe('')
  else expect(JSON.parse(run.stdout)).toMatchObject({ numPassedTests: 2 })
  expect(run.stdout).not.toContain('vitest-watchdog')
  expect(run.output).toContain('vitest-watchdog: 2 leaked resources in 1 test')
  expect(run.output).toMatch(/^::warning file=.*settle\.test\.ts,line=29,/m)
})

test('with the junit reporter on stdout, stdout is one XML document', async () => {
  const run = await runFixture('leaks', { args: ['settle'], reporterArgs: ['--reporter=junit'] })
  const report = run.stdout.replace(WRITTEN_TO, '')
  if (report !== run.stdout) expect(report.trim(), run.stdout).toBe('')
  else expect(run.stdout.trim()).toMatch(/^<\?xml[^]*<\/testsuites>$/)
  expect(run.stdout).not.toContain('vitest-watchdog')
  expect(run.output).toContain('vitest-watchdog: 2 leaked resources in 1 test')
})
