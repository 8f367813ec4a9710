import { describe, expect, test } from 'vitest'
import {
  ArrayPrototypeFilter,
  ArrayPrototypeJoin,
  ArrayPrototypeMap,
  ArrayPrototypePush,
  ArrayPrototypeSome,
  DateNow,
  JSONParse,
  JSONStringify,
  MapPrototypeDelete,
  MapPrototypeGet,
  MapPrototypeGetSize,
  MapPrototypeHas,
  MapPrototypeSet,
  mapValues,
  ObjectDefineProperty,
  ObjectKeys,
  ownError,
  PromisePrototypeThen,
  SafePromise,
  setValues,
  stackOf,
  StringPrototypeStartsWith,
} from '../../src/shared/intrinsics.js'

// Each case replaces built-ins the way a test can, computes with the captured
// ones, and puts everything back before asserting (Vitest's expect uses them too).
// The helper's own built-ins are the ones of load time too, or it could not put them back.
type Replacement = [owner: object, key: PropertyKey, value: unknown]
const { defineProperty, getOwnPropertyDescriptor } = Reflect
function withReplaced<T>(replacements: Replacement[], fn: () => T): T {
  const saved = replacements.map(([owner, key]) => getOwnPropertyDescriptor(owner, key)!)
  for (const [owner, key, value] of replacements) defineProperty(owner, key, { ...getOwnPropertyDescriptor(owner, key), value })
  try {
    return fn()
  } finally {
    for (let i = replacements.length - 1; i >= 0; i--) defineProperty(replacements[i]![0], replacements[i]![1], saved[i]!)
  }
}
const broken = () => {
  throw new Error('replaced by the test')
}
const all = (owner: object, keys: PropertyKey[], value: unknown = broken): Replacement[] => keys.map((key) => [owner, key, value])

describe('a captured built-in still works after the global one is replaced', () => {
  test('JSON.stringify and JSON.parse', () => {
    const [text, parsed] = withReplaced([[JSON, 'stringify', () => '{"x":1}'], [JSON, 'parse', broken]], () => [JSONStringify({ kind: 'run', seq: 1 }), JSONParse('{"kind":"done"}')])
    expect(text).toBe('{"kind":"run","seq":1}')
    expect(parsed).toEqual({ kind: 'done' })
  })

  test('Array.prototype methods', () => {
    const [length, joined, some] = withReplaced(all(Array.prototype, ['push', 'map', 'filter', 'some', 'join']), () => {
      const list: number[] = []
      ArrayPrototypePush(list, 1, 2, 3)
      return [list.length, ArrayPrototypeJoin(ArrayPrototypeMap(ArrayPrototypeFilter(list, (n) => n > 1), (n) => n * 2), ','), ArrayPrototypeSome(list, (n) => n === 3)]
    })
    expect([length, joined, some]).toEqual([3, '4,6', true])
  })

  test('Map.prototype methods and size, and iteration without the iterator protocol', () => {
    const replaced = [...all(Map.prototype, ['get', 'set', 'has', 'delete', 'values', Symbol.iterator]), ...all(Set.prototype, ['values', Symbol.iterator])]
    const results = withReplaced(replaced, () => {
      const map = new Map<number, string>()
      MapPrototypeSet(map, 1, 'a')
      MapPrototypeSet(map, 2, 'b')
      return [MapPrototypeGet(map, 1), MapPrototypeHas(map, 2), MapPrototypeDelete(map, 2), MapPrototypeGetSize(map), mapValues(map), setValues(new Set(['x']))]
    })
    expect(results).toEqual(['a', true, true, 1, ['a'], ['x']])
  })

  test('Promise.prototype.then and the Promise constructor', async () => {
    const value = withReplaced([[Promise.prototype, 'then', broken], [globalThis, 'Promise', broken]], () => PromisePrototypeThen(new SafePromise<number>((resolve) => resolve(1)), (n) => n + 1))
    expect(await value).toBe(2)
  })

  test('Object.defineProperty and Object.keys', () => {
    const keys = withReplaced(all(Object, ['defineProperty', 'keys']), () => {
      const target: Record<string, unknown> = {}
      ObjectDefineProperty(target, 'a', { value: 1, enumerable: true })
      return ObjectKeys(target)
    })
    expect(keys).toEqual(['a'])
  })

  test('String.prototype methods', () => {
    expect(withReplaced([[String.prototype, 'startsWith', () => false]], () => StringPrototypeStartsWith('/a/b', '/'))).toBe(true)
  })

  test('Date.now', () => {
    expect(withReplaced([[Date, 'now', () => 0]], () => DateNow())).toBeGreaterThan(1_600_000_000_000)
  })
})

describe('the watchdog\'s own stacks', () => {
  const ErrorCtor = Error as { prepareStackTrace?: unknown; stackTraceLimit?: number }
  test('a test\'s Error.prepareStackTrace does not shape them, and is left in place', () => {
    const hook = () => 'a constant stack'
    const [stack, after] = withReplaced([[Error, 'prepareStackTrace', hook]], () => [stackOf(ownError('created here')), ErrorCtor.prepareStackTrace])
    expect(stack).toMatch(/^Error: created here\n[\s\S]*intrinsics\.test\.ts:\d+:\d+/)
    expect(after).toBe(hook)
  })

  test('a stackTraceLimit of 0 does not blank them, and is left in place', () => {
    const limit = ErrorCtor.stackTraceLimit
    ErrorCtor.stackTraceLimit = 0
    try {
      const error = ownError('created here')
      expect(ErrorCtor.stackTraceLimit).toBe(0)
      expect(stackOf(error)).toMatch(/intrinsics\.test\.ts:\d+:\d+/)
    } finally {
      ErrorCtor.stackTraceLimit = limit
    }
  })
})
