/**
 * Vitest's browser pool sends the provided context to the page as a string
 * in flatted's format, which the tester frame parses before each file: a
 * JSON array whose first item is the root object, where every string or
 * object value is the index, itself a string, of an item of the array.
 * Flatted is bundled inside Vitest, not a dependency anyone can import, so a
 * value is added here in that format directly: a string item appended, and
 * its index under the key in the root.
 */
import { WatchdogUnsupportedVitestError } from '../../shared/errors.js'

/** `context` with `key` set to the string `value` in its root object. */
export function withProvidedString(context: string, key: string, value: string): string {
  let items: unknown
  try {
    items = JSON.parse(context)
  } catch {
    items = undefined
  }
  const root = Array.isArray(items) ? (items[0] as unknown) : undefined
  if (!Array.isArray(items) || typeof root !== 'object' || root === null || Array.isArray(root)) {
    throw new WatchdogUnsupportedVitestError('the browser pool\'s providedContext is not in flatted\'s format (a JSON array whose first item is an object)')
  }
  const index = items.length
  return JSON.stringify([{ ...root, [key]: String(index) }, ...items.slice(1), value])
}
