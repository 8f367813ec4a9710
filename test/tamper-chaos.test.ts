import { describe, expect, test } from 'vitest'
import { FILES, planFile } from '../fixtures/tamper-chaos/plan.js'
import { hangOf, outcomeOf, runFixture } from './support/run-fixture.js'

// A generated test (fixtures/tamper-chaos): seeded sequences of what a test
// can do to its own process (replace process.env, push to execArgv, stub
// globals, fake timers, mock JSON, Array, Map and Promise methods and the
// stack-trace hooks, print inspector-like lines, open and close the
// inspector, delete the watchdog's scratch directories, ignore signals), each
// step ending in a spin, a blocking call or a plain pass. Whatever was
// tampered with, every spin and block is stopped, every other test passes,
// the run ends and nothing is left running (runFixture checks the process
// table). WATCHDOG_CHAOS_SEEDS=5,6,7 explores other seeds.
const seeds = (process.env.WATCHDOG_CHAOS_SEEDS ?? '1,2').split(',').map(Number)

const setups: Array<[string, string[]]> = [
  ['forks', []],
  ['threads', ['--pool=threads']],
  ['forks, isolate: false', ['--no-isolate']],
]

describe.each(setups)('%s', (_setup, args) => {
  test.each(seeds)('seed %i: every spin and block is stopped, every other test passes', async (seed) => {
    const run = await runFixture('tamper-chaos', { args, env: { CHAOS_SEED: String(seed) } })
    let stops = 0
    for (let index = 0; index < FILES; index++) {
      const file = `chaos-${index + 1}.test.ts`
      planFile(seed, index).forEach((step, i) => {
        const name = `step ${i + 1}: ${step.tampers.join(', ')}, then ${step.ending}`
        const outcome = outcomeOf(run, `${file} > ${name}`)
        if (step.ending === 'pass') {
          expect(outcome, `${file} > ${name}\n${run.output}`).toMatchObject({ status: 'passed' })
        } else {
          stops++
          expect(outcome.status, `${file} > ${name}\n${run.output}`).toBe('failed')
          expect(outcome.failureMessages[0]).toMatch(/^TestStoppedError: /)
          expect(hangOf(run, file, name).stage).toMatch(/^(interrupt|kill)$/)
        }
        expect(outcomeOf(run, `${file} > after step ${i + 1}`).status, `${file} > after step ${i + 1}\n${run.output}`).toBe('passed')
      })
    }
    expect(run.report?.hangs).toHaveLength(stops)
    expect(run.output).not.toContain('could not stop')
    expect(run.code).toBe(1)
  })
})
