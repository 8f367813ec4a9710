import { defineConfig } from 'vitest/config'

// The project's own suite: each test drives real Vitest runs over fixtures/
// and asserts on their results, reports and the process table. Bounds are
// generous, only there to catch a real hang on a loaded 2-core machine.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
})
