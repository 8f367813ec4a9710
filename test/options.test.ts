import { execFile } from 'node:child_process'
import { resolve } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, test } from 'vitest'
import { killAfter, WatchdogOptionError, watchdog } from '../src/index.js'
import { outcomeOf, runFixture } from './support/run-fixture.js'

describe('bad options fail the run at start, naming the option, the value and where it came from', () => {
  test.each([
    ['negative', 'invalid killAfter -1 in watchdog() plugin options: expected a finite number of milliseconds from 0 to 2147483647 (the longest timer Node can set).'],
    ['huge', 'invalid grace 2147483648 in watchdog() plugin options'],
    ['nan', 'invalid grace NaN in watchdog() plugin options'],
    ['string', 'invalid killAfter "1000" in watchdog() plugin options'],
    ['unknown', 'unknown option killAftr (set to 1000) in watchdog() plugin options: expected one of killAfter, grace, leaks, outputFile, importKillAfter, runTimeout.'],
    ['tag', 'invalid meta.killAfter Infinity in tag "flaky" of the vitest config'],
  ])('%s', async (fixture, message) => {
    const run = await runFixture(`invalid/${fixture}`)
    expect(run.code).toBe(1)
    expect(run.output).toContain('Startup Error')
    expect(run.output).toContain(`WatchdogOptionError: vitest-watchdog: ${message}`)
    expect(run.tests.size).toBe(0)
  })

  test('invalid meta in a test file fails its tests with the describe named', async () => {
    const run = await runFixture('invalid/meta')
    expect(run.code).toBe(1)
    const outcome = outcomeOf(run, 'ok.test.ts > integration > would run with a bad budget')
    expect(outcome.status).toBe('failed')
    expect(outcome.failureMessages[0]).toContain('WatchdogOptionError: vitest-watchdog: invalid meta.killAfter "soon" in meta of describe "integration", inherited by test "integration > would run with a bad budget" (ok.test.ts)')
  })

  test("meta.leaks asking for tracking under watchdog({ leaks: 'off' }) fails its test instead of being silently ignored", async () => {
    const run = await runFixture('invalid/leaks-off')
    const outcome = outcomeOf(run, "ok.test.ts > asks for leaks: fail while tracking is off for the run")
    expect(outcome.status).toBe('failed')
    expect(outcome.failureMessages[0]).toContain(`WatchdogOptionError: vitest-watchdog: invalid meta.leaks "fail" in meta of test "asks for leaks: fail while tracking is off for the run" (ok.test.ts): expected 'off' while the plugin runs with watchdog({ leaks: 'off' })`)
    expect(outcomeOf(run, 'ok.test.ts > asks for nothing').status).toBe('passed')
  })

  test('an invalid killAfter() call fails the file where it is written', async () => {
    const run = await runFixture('invalid/helper')
    expect(run.code).toBe(1)
    expect(run.output).toContain('WatchdogOptionError: vitest-watchdog: invalid killAfter -5 in killAfter() call')
  })
})

describe('the API itself', () => {
  test('killAfter(ms) returns test options carrying meta.killAfter', () => {
    expect(killAfter(500)).toEqual({ meta: { killAfter: 500 } })
    expect({ ...killAfter(500), retry: 2 }).toEqual({ meta: { killAfter: 500 }, retry: 2 })
  })

  test.each([[-1], [Number.NaN], [Number.POSITIVE_INFINITY], ['5' as unknown as number]])('killAfter(%s) throws a WatchdogOptionError with a stable code', (value) => {
    expect.assertions(2)
    try {
      killAfter(value)
    } catch (error) {
      expect(error).toBeInstanceOf(WatchdogOptionError)
      expect((error as WatchdogOptionError).code).toBe('ERR_WATCHDOG_INVALID_OPTION')
    }
  })

  test('watchdog() is a Vite plugin named vitest-watchdog', () => {
    expect(watchdog()).toMatchObject({ name: 'vitest-watchdog' })
    expect(() => watchdog({ outputFile: '' })).toThrow('invalid outputFile "" in watchdog() plugin options')
  })
})

test('types: meta.killAfter and the options reject strings (tsc over fixtures/types)', async () => {
  const tsc = resolve(import.meta.dirname, '../node_modules/typescript/bin/tsc')
  const result = await promisify(execFile)(process.execPath, [tsc, '-p', resolve(import.meta.dirname, '../fixtures/types/tsconfig.json')]).then(
    () => ({ code: 0, stdout: '' }),
    (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
  )
  expect(result).toEqual({ code: 0, stdout: '' })
})
