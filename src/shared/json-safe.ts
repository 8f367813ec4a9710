import { ArrayIsArray, ArrayPrototypeMap, ObjectEntries, SetPrototypeAdd, SetPrototypeDelete, SetPrototypeHas } from './intrinsics.js'

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
  if (SetPrototypeHas(path, value)) return '[Circular]'
  SetPrototypeAdd(path, value)
  try {
    if (ArrayIsArray(value)) return ArrayPrototypeMap(value as unknown[], (item) => jsonSafe(item, path))
    const copy: Record<string, unknown> = {}
    const entries = ObjectEntries(value)
    for (let i = 0; i < entries.length; i++) copy[entries[i]![0]] = jsonSafe(entries[i]![1], path)
    return copy
  } finally {
    SetPrototypeDelete(path, value)
  }
}
