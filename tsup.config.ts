import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'tsup'

export default defineConfig([
  // Three entry points for Node: the public API (loaded by vitest.config.ts in
  // the main process), the test runner (loaded by Vitest inside each worker,
  // found by path at run time, so it must stay a separate file in dist/) and
  // the globalSetup file that checks every project is guarded (also found by path).
  {
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
  },
  // The page's code in browser mode, and the package entry a browser test
  // file gets (the `browser` export condition), served by Vite to the tester
  // frame: self-contained modules, no node module, no chunk to resolve.
  {
    entry: { 'browser/page': 'src/browser/setup.ts', 'browser/index': 'src/browser/index.ts' },
    format: ['esm'],
    target: 'es2022',
    platform: 'browser',
    splitting: false,
    sourcemap: false,
    noExternal: [/^(node:)?path$/],
    removeNodeProtocol: false,
    // The tester HTML loads browser/page.js (host/browser/tester-html.ts).
    // Where it cannot, the setup file is a one-line module: Vitest gives a
    // setup file a new URL in every tester frame, so the browser would compile
    // it again each time; the page's code behind it keeps one URL, and each
    // frame after the first gets it from the browser's caches.
    onSuccess: async () => writeFileSync('dist/browser/setup.js', "import './page.js'\n"),
    // shared/stop.ts words a stop with node:path's relative(); the page gets a POSIX one.
    esbuildPlugins: [{
      name: 'posix-path',
      setup(build) {
        build.onResolve({ filter: /^(node:)?path$/ }, () => ({ path: fileURLToPath(new URL('./src/browser/posix-path.ts', import.meta.url)) }))
      },
    }],
  },
])
