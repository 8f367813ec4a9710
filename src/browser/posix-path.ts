/**
 * `node:path`'s `relative`, for the page (the browser build aliases
 * `node:path` here: shared/stop.ts words a stop the same way in both places).
 * Vitest gives the page POSIX-style absolute paths on every platform.
 */
export function relative(from: string, to: string): string {
  const a = from.split('/').filter(Boolean)
  const b = to.split('/').filter(Boolean)
  let common = 0
  while (common < a.length && common < b.length && a[common] === b[common]) common++
  return [...a.slice(common).map(() => '..'), ...b.slice(common)].join('/')
}
