/**
 * A copy that JSON can take: a BigInt becomes its string ("10n"), a reference
 * to an object being copied (a cycle) becomes "[Circular]". Only a cycle: the
 * same object reached twice by different paths is copied twice. A test's
 * result or meta may hold either, and the record it goes into (a journal
 * line, the plan of a resumed page) must still be written.
 */
export function jsonSafe(value: unknown, path: Set<object> = new Set()): unknown {
  if (typeof value === 'bigint') return `${value}n`
  if (!value || typeof value !== 'object') return value
  if (path.has(value)) return '[Circular]'
  path.add(value)
  try {
    if (Array.isArray(value)) return value.map((item) => jsonSafe(item, path))
    const copy: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) copy[key] = jsonSafe(item, path)
    return copy
  } finally {
    path.delete(value)
  }
}
