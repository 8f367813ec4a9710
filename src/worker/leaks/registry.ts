/**
 * Every resource the watchdog tracks, from its creation to its end.
 *
 * Tracking happens at the APIs that create resources (leaks/patches.ts), never
 * with async_hooks: an `init` hook gives promises async ids, and then no
 * interrupt is safe (ARCHITECTURE.md, "Facts the code relies on").
 */
import { ArrayPrototypeFilter, ArrayPrototypePush, ownError, SetPrototypeAdd, SetPrototypeDelete, SetPrototypeGetSize, setValues } from '../../shared/intrinsics.js'

export type LeakType = 'Timeout' | 'Interval' | 'Immediate' | 'Server' | 'Socket' | 'ChildProcess' | 'Worker' | 'FSWatcher' | 'FileHandle'

export interface Tracked {
  type: LeakType
  /** The test (task id) running when it was created; null when several ran concurrently. */
  owner: string | null
  /** How many tests were running when it was created (more than one: no attribution). */
  running: number
  /** Captured at creation; formatted (and source-mapped by Vitest) only if it leaks, with stackOf (shared/intrinsics.ts). */
  origin: Error
  alive(): boolean
  /**
   * Alive, but its end was asked for (close, end, kill, terminate) and is under
   * way: not a leak if it goes within the check's bound. Never true for what
   * nothing but the test could end (a pending timer): that is a leak at once.
   */
  closing(): boolean
  /** The watchdog's clean-up of a leaked resource, when it does one. */
  dispose?(): void
  /** What the clean-up does, for the report. */
  cleanup: string
}

/** Tests running now, by task id. More than one means test.concurrent. */
const runningTests = new Set<string>()
const live = new Set<Tracked>()

export function testStarted(id: string): void {
  SetPrototypeAdd(runningTests, id)
}

export function testEnded(id: string): void {
  SetPrototypeDelete(runningTests, id)
}

const NEVER_CLOSING = () => false

export function track(type: LeakType, alive: () => boolean, cleanup: string, dispose?: () => void, closing: () => boolean = NEVER_CLOSING): Tracked | null {
  const running = SetPrototypeGetSize(runningTests)
  if (running === 0) return null // Created outside any test: a file-level resource, not a test's leak.
  // Frames taken under the watchdog's own limit: a test's stackTraceLimit of 0 must not hide where it was created.
  const origin = ownError('created here')
  const owner = running === 1 ? setValues(runningTests)[0]! : null
  const entry: Tracked = { type, owner, running, origin, alive, closing, cleanup, dispose }
  SetPrototypeAdd(live, entry)
  return entry
}

export function forget(entry: Tracked | null | undefined): void {
  if (entry) SetPrototypeDelete(live, entry)
}

/** Resources created while test `id` ran (or while it ran among others), still alive. */
export function aliveFor(id: string): Tracked[] {
  const found: Tracked[] = []
  const entries = setValues(live)
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!
    if (!entry.alive()) {
      SetPrototypeDelete(live, entry)
      continue
    }
    if (entry.owner === id) ArrayPrototypePush(found, entry)
  }
  return found
}

/** Alive resources created while several tests ran at once: nobody can be blamed. */
export function aliveUnattributed(): Tracked[] {
  return ArrayPrototypeFilter(setValues(live), (entry) => entry.owner === null && entry.alive())
}

export function untrack(entries: Iterable<Tracked>): void {
  for (const entry of entries) SetPrototypeDelete(live, entry)
}
