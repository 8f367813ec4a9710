import { SourceMap } from 'node:module'
import { dirname, isAbsolute, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { RawFrame } from '../shared/endpoint.js'
import { isUserCode, isWatchdogCode } from '../shared/own-files.js'
import type { SourceLocation } from '../shared/stop.js'
import { evaluatedModules } from './vitest-internals.js'
import { withLoadJSON, ArrayPrototypeFilter, ArrayPrototypeFind, ArrayPrototypeJoin, ArrayPrototypeMap, MapPrototypeGet, MapPrototypeHas, MapPrototypeSet, StringPrototypeStartsWith } from '../shared/intrinsics.js'

interface MappedFrame extends SourceLocation {
  functionName: string
}

const mapCache = new Map<string, SourceMap | null>()

function sourceMapFor(file: string): SourceMap | null {
  if (MapPrototypeHas(mapCache, file)) return MapPrototypeGet(mapCache, file)!
  let map: SourceMap | null = null
  try {
    // Decoding reads the global JSON.parse, which the stuck test may have mocked.
    const found = withLoadJSON(() => evaluatedModules()?.getModuleSourceMapById(file))
    if (found?.map) map = new SourceMap(found.map as ConstructorParameters<typeof SourceMap>[0])
  } catch {
    map = null
  }
  MapPrototypeSet(mapCache, file, map)
  return map
}

function toPath(url: string): string {
  if (StringPrototypeStartsWith(url, 'file://')) {
    try {
      return fileURLToPath(url)
    } catch {
      return url
    }
  }
  return url
}

/** A frame of generated code, in the original source where a source map says so (1-based). */
export function mapFrame(frame: RawFrame): MappedFrame {
  const file = toPath(frame.url)
  const map = isAbsolute(file) ? sourceMapFor(file) : null
  if (map) {
    const entry = map.findEntry(frame.lineNumber, frame.columnNumber) as {
      originalSource?: string
      originalLine?: number
      originalColumn?: number
    }
    if (entry && entry.originalLine !== undefined && entry.originalColumn !== undefined) {
      const source = entry.originalSource ? toPath(entry.originalSource) : file
      return {
        functionName: frame.functionName,
        file: isAbsolute(source) ? source : resolve(dirname(file), source),
        line: entry.originalLine + 1,
        column: entry.originalColumn + 1,
      }
    }
  }
  return { functionName: frame.functionName, file, line: frame.lineNumber + 1, column: frame.columnNumber + 1 }
}

/** Frames of Node itself, Vitest, and the watchdog: never where a user's test hung. */
function isUserFrame(frame: MappedFrame): boolean {
  return isUserCode(frame.file)
}

/**
 * The location is the top frame in user code. The stack lists every frame,
 * in original coordinates, in V8's format so that Vitest parses it and prints
 * a code frame at the first user frame.
 */
export function stuckLocation(frames: RawFrame[]): { location: SourceLocation | null; stack: string; userFrames: SourceLocation[] } {
  const mapped = ArrayPrototypeMap(frames, mapFrame)
  const userFrames = ArrayPrototypeMap(ArrayPrototypeFilter(mapped, isUserFrame), (f) => ({ file: f.file, line: f.line, column: f.column }))
  const top = ArrayPrototypeFind(mapped, isUserFrame)
  const location = top ? { file: top.file, line: top.line, column: top.column } : null
  const stack = ArrayPrototypeJoin(
    ArrayPrototypeMap(
      ArrayPrototypeFilter(mapped, (f) => f.file !== '' && !isWatchdogCode(f.file)),
      (f) => `    at ${f.functionName ? `${f.functionName} (${f.file}:${f.line}:${f.column})` : `${f.file}:${f.line}:${f.column}`}`,
    ),
    '\n',
  )
  return { location, stack, userFrames }
}
