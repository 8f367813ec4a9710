/**
 * Where each test is defined (its `test(` line), without Vitest's
 * includeTaskLocation, which formats and source-maps a stack for every test
 * as it is collected. The frames are taken as the test is defined (cheap:
 * unformatted) and mapped only when a stop needs them.
 */
import type { SourceLocation } from '../shared/stop.js'
import { ArrayIsArray, ArrayPrototypeMap, ownError, sitesOf, WeakMapPrototypeGet, WeakMapPrototypeSet, type CallSite } from '../shared/intrinsics.js'
import { parsedFrames } from '../shared/stack-frames.js'
import { mapFrame } from './stuck-location.js'
import type { RawFrame } from '../shared/endpoint.js'

/** Frames taken at a definition: from the runner's hook down through Vitest's `test` chain (each, for, concurrent) to the user's line. */
const DEFINITION_FRAMES = 25

const definitions = new WeakMap<object, Error>()

/** Called while `test(...)` runs (Vitest asks the runner to extend the new test's context). */
export function noteDefinition(task: object): void {
  WeakMapPrototypeSet(definitions, task, ownError('definition', DEFINITION_FRAMES))
}

function rawFrames(sites: readonly CallSite[] | string): RawFrame[] {
  if (ArrayIsArray(sites)) {
    return ArrayPrototypeMap(sites as readonly CallSite[], (site) => ({
      functionName: '',
      url: site.getFileName() ?? '',
      lineNumber: (site.getLineNumber() ?? 1) - 1,
      columnNumber: (site.getColumnNumber() ?? 1) - 1,
    }))
  }
  return ArrayPrototypeMap(parsedFrames(sites as string), (frame) => ({ functionName: '', url: frame.file, lineNumber: frame.line - 1, columnNumber: frame.column - 1 }))
}

/** The test's `test(` line in its file: Vitest's own location when the user asked for it, else the frames taken at its definition. */
export function definitionOf(task: { file: { filepath: string }; location?: { line: number; column: number } }): SourceLocation | undefined {
  const file = task.file.filepath
  if (task.location) return { file, line: task.location.line, column: task.location.column }
  const error = WeakMapPrototypeGet(definitions, task)
  if (!error) return undefined
  const frames = rawFrames(sitesOf(error))
  for (let i = 0; i < frames.length; i++) {
    const mapped = mapFrame(frames[i]!)
    if (mapped.file === file) return { file, line: mapped.line, column: mapped.column }
  }
  return undefined
}
