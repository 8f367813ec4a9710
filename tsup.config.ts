import { defineConfig } from 'tsup'

// Three entry points: the public API (loaded by vitest.config.ts in the main
// process), the test runner (loaded by Vitest inside each worker, found by
// path at run time, so it must stay a separate file in dist/) and the
// globalSetup file that checks every project is guarded (also found by path).
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'worker/runner': 'src/worker/runner.ts',
    'host/check-projects': 'src/host/check-projects.ts',
  },
  format: ['esm'],
  dts: { entry: { index: 'src/index.ts' } },
  target: 'node20',
  platform: 'node',
  clean: true,
  splitting: true,
  sourcemap: false,
  external: ['vitest', 'vitest/node', 'vitest/config', 'ws'],
  // Keep 'node:' specifiers: Vite's module runner resolves a bare 'timers' as a file.
  removeNodeProtocol: false,
})
