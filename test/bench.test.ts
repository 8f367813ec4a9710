import { expect, test } from 'vitest'
import { runFixture, vitestMajor } from './support/run-fixture.js'

interface BenchJson {
  files: Array<{ groups: Array<{ benchmarks: Array<{ name: string; hz: number; sampleCount: number }> }> }>
}

// A watchdog is insurance: under `vitest bench` nobody should be able to tell it is installed.
test.runIf(vitestMajor === 4).each([['forks'], ['threads']])('vitest bench with the plugin runs every benchmark as without it (%s; skipped on Vitest 5, whose bench() and --outputJson are gone)', async (pool) => {
  const run = await runFixture('bench', { command: 'bench', args: [`--pool=${pool}`, '--outputJson={dir}/bench.json'], keep: ['bench.json'] })
  expect(run.code, run.output).toBe(0)
  expect(run.output).not.toContain('FAIL')
  expect(run.output).not.toContain('vitest-watchdog')
  expect(run.report).toBeNull()
  const json = JSON.parse(run.kept['bench.json'] ?? '{"files":[]}') as BenchJson
  const benchmarks = json.files.flatMap((file) => file.groups.flatMap((group) => group.benchmarks))
  expect(benchmarks.map((b) => b.name).sort()).toEqual(['loop', 'reduce'])
  for (const benchmark of benchmarks) {
    expect(benchmark.sampleCount).toBeGreaterThan(0)
    expect(benchmark.hz).toBeGreaterThan(0)
  }
})
