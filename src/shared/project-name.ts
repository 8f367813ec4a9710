import { CRASHED_CODE, STOPPED_CODE } from './errors.js'
import { StringPrototypeReplace, StringPrototypeStartsWith } from './intrinsics.js'

/**
 * When the run has several projects, a stop's or crash's error names its
 * project: `[name] Test stopped by vitest-watchdog ...`. Vitest's JUnit
 * reporter, for one, writes the error's message and no project. Errors are
 * the plain objects Vitest keeps in a task's result; a result restored on
 * resume may come through twice, so a named one is left as it is.
 */
export function nameProject(errors: ReadonlyArray<unknown> | undefined, project: string | null | undefined): void {
  if (!project) return
  const prefix = `[${project}] `
  for (const error of errors ?? []) {
    const e = error as { code?: unknown; message?: unknown; stack?: unknown }
    if ((e.code !== STOPPED_CODE && e.code !== CRASHED_CODE) || typeof e.message !== 'string' || StringPrototypeStartsWith(e.message, prefix)) continue
    if (typeof e.stack === 'string') e.stack = StringPrototypeReplace(e.stack, e.message, prefix + e.message)
    e.message = prefix + e.message
  }
}
