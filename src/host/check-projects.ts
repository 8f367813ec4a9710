/**
 * A globalSetup file, added by a root config's watchdog() when the config
 * has `test.projects` (plugin.ts). Vitest runs the root project's globalSetup
 * before any test, whether or not any project took the root's plugins: when
 * no project is guarded at all (projects from their own config files without
 * watchdog()), no configureVitest of the watchdog's ever runs, and this is
 * what stops the run from hanging silently. Its own entry in dist/ (Vitest
 * loads it by path).
 */
import { fileURLToPath } from 'node:url'
import type { TestProject } from 'vitest/node'
import { checkEveryProjectGuarded } from './projects.js'

const runnerPath = fileURLToPath(new URL('../worker/runner.js', import.meta.url))

export default function setup(project: TestProject): void {
  checkEveryProjectGuarded(project.vitest, runnerPath, "the root config's watchdog() does not reach it")
}
