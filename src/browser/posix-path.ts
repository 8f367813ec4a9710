/**
 * `node:path`'s `relative`, for the page (the browser build aliases
 * `node:path` here: shared/stop.ts words a stop the same way in both places).
 * Vitest gives the page POSIX-style absolute paths on every platform.
 */
import { ArrayPrototypeFilter, ArrayPrototypeJoin, ArrayPrototypeMap, ArrayPrototypePush, ArrayPrototypeSlice, StringPrototypeSplit } from '../shared/intrinsics.js'

export function relative(from: string, to: string): string {
  const a = ArrayPrototypeFilter(StringPrototypeSplit(from, '/'), Boolean)
  const b = ArrayPrototypeFilter(StringPrototypeSplit(to, '/'), Boolean)
  let common = 0
  while (common < a.length && common < b.length && a[common] === b[common]) common++
  const parts = ArrayPrototypeMap(ArrayPrototypeSlice(a, common), () => '..')
  ArrayPrototypePush(parts, ...ArrayPrototypeSlice(b, common))
  return ArrayPrototypeJoin(parts, '/')
}
