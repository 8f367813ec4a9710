import { defineConfig } from 'tsup'

// Three entry points: the public API (loaded by vitest.config.ts in the main
// process), the test runner (loaded by Vitest inside each worker) and the helper
// thread (started by the runner). The last two are found by path at run time,
// so they must stay separate files in dist/.
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'worker/runner': 'src/worker/runner.ts',
    'worker/helper': 'src/worker/helper.ts',
  },
  format: ['esm'],
  dts: { entry: { index: 'src/index.ts' } },
  target: 'node20',
  platform: 'node',
  clean: true,
  splitting: true,
  sourcemap: false,
  external: ['vitest', 'vitest/node', 'vitest/config'],
  // Keep 'node:' specifiers: Vite's module runner resolves a bare 'timers' as a file.
  removeNodeProtocol: false,
})
