import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { runFixture } from './support/run-fixture.js'

const MARKER_BOUND_MS = 30_000

// The Vitest main process dies outright (SIGKILL: no 'exit' hook runs) while a
// worker spins or waits on a child. A worker has no thread of the
// watchdog's to notice: the run's reaper kills every worker group and removes
// the scratch directories. runFixture fails the test if any process of the
// run, or any scratch directory, is left.
test.each([
  ['forks', 'spins', 'loop'],
  ['forks', 'waits on execSync', 'exec'],
  ['threads', 'waits on execSync', 'exec'],
])('pool %s: Vitest is SIGKILLed while a test %s: nothing is left behind', async (pool, _, hang) => {
  const run = await runFixture('sigkill-main', {
    args: [`--pool=${pool}`],
    env: { HANG: hang },
    during: async (child) => {
      const until = Date.now() + MARKER_BOUND_MS
      const marker = () => join(runDirOf(child), 'hanging')
      while (!existsSync(marker()) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50))
      const hanging = existsSync(marker())
      child.kill('SIGKILL')
      expect(hanging, 'the fixture never reached its hang').toBe(true)
    },
  })
  expect(run.signal).toBe('SIGKILL')
})

function runDirOf(child: { spawnargs: string[] }): string {
  const arg = child.spawnargs.find((a) => a.startsWith('--outputFile.json='))!
  return join(arg.slice('--outputFile.json='.length), '..')
}
