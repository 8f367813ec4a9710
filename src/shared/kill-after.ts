import type {} from 'vitest'

import { checkDuration } from './options.js'

declare module 'vitest' {
  interface TaskMeta {
    /** Budget of this test (or of every test in this describe) in ms, for vitest-watchdog. */
    killAfter?: number
    /** What vitest-watchdog does with resources this test (or describe) leaves running. */
    leaks?: 'off' | 'report' | 'fail'
  }
}

/**
 * Test options that give a test, or every test of a describe, its own budget:
 * `test(name, killAfter(30_000), fn)`, or spread: `{ ...killAfter(500), retry: 2 }`.
 */
export function killAfter(ms: number): { meta: { killAfter: number } } {
  return { meta: { killAfter: checkDuration('killAfter', ms, 'killAfter() call') } }
}
