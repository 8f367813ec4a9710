/**
 * Every resource the watchdog tracks, from its creation to its end.
 *
 * Tracking happens at the APIs that create resources (leaks/patches.ts), never
 * with async_hooks: an `init` hook gives promises async ids, and then no
 * interrupt is safe (ARCHITECTURE.md, "Facts the code relies on").
 */
import { ArrayPrototypeFilter, ArrayPrototypePush, hasLoadPrepareStackTrace, MapPrototypeGet, ownError, MapPrototypeSet, SetPrototypeAdd, SetPrototypeDelete, SetPrototypeGetSize, setValues } from '../../shared/intrinsics.js'
import { captureSites, chainOf, startedBy } from './chain.js'

export type LeakType = 'Timeout' | 'Interval' | 'Immediate' | 'Server' | 'Socket' | 'ChildProcess' | 'Worker' | 'FSWatcher' | 'FileHandle'

/** A test, as a leak entry names it. */
export interface TestName {
  file: string
  name: string
}

export interface Tracked {
  type: LeakType
  /** The test (task id) running when it was created, whose check reports it; null when several ran concurrently. */
  owner: string | null
  /**
   * Set when its chain was started by another test, which had ended by then
   * (a producer loop, a pool's respawn: chain.ts): the test it is reported for.
   */
  from: TestName | null
  /** Where user code created it (chain.ts), to report a leak from an earlier test once per line. */
  site: string | null
  /** How many tests were running when it was created (more than one: no attribution). */
  running: number
  /** The creation stack, formatted (and source-mapped by Vitest) only if it leaks. */
  sites: NodeJS.CallSite[]
  /**
   * Captured too where no prepareStackTrace is installed (the vm pools): Node
   * then formats, and source-maps, the stack itself, which only an error of
   * its own capture gets (and where no sites could be taken). Null where
   * Vitest's prepareStackTrace formats the sites.
   */
  origin: Error | null
  alive(): boolean
  /**
   * Alive, but its end was asked for (close, end, kill, terminate) and is under
   * way: not a leak if it goes within the check's bound. Never true for what
   * nothing but the test could end (a pending timer): that is a leak at once.
   */
  closing(): boolean
  /** What the clean-up does, for the report. */
  cleanup: string
}

/** Tests running now, by task id. More than one means test.concurrent. */
const runningTests = new Set<string>()
/** Every test that started in this worker, by task id: a resource its chain creates later names it. */
const names = new Map<string, TestName>()
const live = new Set<Tracked>()

export function testStarted(id: string, file: string, name: string): void {
  SetPrototypeAdd(runningTests, id)
  MapPrototypeSet(names, id, { file, name })
}

export function testEnded(id: string): void {
  SetPrototypeDelete(runningTests, id)
}

const NEVER_CLOSING = () => false

export function track(type: LeakType, alive: () => boolean, cleanup: string, closing: () => boolean = NEVER_CLOSING): Tracked | null {
  const running = SetPrototypeGetSize(runningTests)
  if (running === 0) return null // Created outside any test: a file-level resource, not a test's leak.
  // Sites taken under the watchdog's own hook and limit (chain.ts): a test's stackTraceLimit of 0 must not hide where it was created.
  const sites = captureSites(track)
  const origin = hasLoadPrepareStackTrace && sites.length > 0 ? null : ownError('created here')
  const chain = chainOf(sites)
  const owner = running === 1 ? setValues(runningTests)[0]! : null
  const blamed = owner === null ? null : startedBy(chain, owner)
  const from = blamed === null || blamed === owner ? null : MapPrototypeGet(names, blamed) ?? null
  const entry: Tracked = { type, owner, from, site: chain.site, running, sites, origin, alive, closing, cleanup }
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
