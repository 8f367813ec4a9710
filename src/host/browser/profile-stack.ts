/**
 * Where a page's JavaScript was when it was terminated, read from the CPU
 * profile the page records for the whole run (interrupt.ts). The profiler is
 * used instead of the debugger because a debugger attached to a page makes
 * every tester frame parse and compile its scripts from scratch (V8 turns
 * its compilation cache off while a debugger is active), which was most of
 * the plugin's cost in browser mode; the profiler's sampling costs nothing
 * measurable at the interval used.
 */

/** The parts of a Chrome DevTools Protocol `Profiler.Profile` read here. */
export interface CpuProfile {
  nodes: Array<{
    id: number
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }
    children?: number[]
    /** 1-based lines where the samples of this node fell: V8 records them for the node a sample ends in. */
    positionTicks?: Array<{ line: number; ticks: number }>
  }>
  samples?: number[]
  /** Microseconds, the page's monotonic clock. */
  startTime: number
  endTime: number
  /** Microseconds between consecutive samples (the first from startTime). */
  timeDeltas?: number[]
}

/** Where no sample falls in the busy window: the profile's last second. */
const FALLBACK_WINDOW_MS = 1_000

/** Samples that are not JavaScript: the page was idle, in native code of its own, or collecting garbage. */
const NOT_SCRIPT = new Set(['(root)', '(idle)', '(program)', '(garbage collector)'])

/** A frame of a sampled stack, in the served coordinates the page's own errors use (1-based). */
export interface SampledFrame {
  functionName: string
  url: string
  line: number
  /** Null for the innermost frame's sampled line: V8 records lines of samples, not columns. */
  column: number | null
}

/** As V8 prints stacks: `    at fn (url:line:column)`, one frame a line. */
export function formatStack(frames: readonly SampledFrame[]): string {
  return frames.map((frame) => `    at ${frame.functionName || '<anonymous>'} (${frame.url}:${frame.line}:${frame.column ?? 1})`).join('\n')
}

/**
 * The stack the page spent the busy window before the termination in: the
 * JavaScript leaf sampled most often in the `busyMs` that end `afterMs`
 * before the profile does (the page ran other tasks between the termination
 * and the end of the profile: their samples are not where it was stuck; the
 * most frequent leaf, rather than the last, so that a short task at either
 * edge of the window cannot pass for the stuck code), innermost first. The
 * innermost frame gets the line most of its samples fell on (where a loop
 * spins); the frames around it get their function's first line, since V8
 * records lines only where a sample ends. Empty when no JavaScript was
 * sampled. Without `sampledLines` the innermost frame gets its function's
 * first line too: under V8's block coverage (Vitest's coverage-v8 in a page)
 * a sample's line is wrong, two lines early in a five-line function (checked
 * by hand, Chromium 150).
 */
export function stuckStack(profile: CpuProfile, busyMs: number, afterMs: number, sampledLines: boolean): SampledFrame[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parentOf = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id)
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  let time = profile.startTime
  const times = samples.map((_, i) => (time += deltas[i] ?? 0))
  const mostSampled = (from: number, to: number): number | undefined => {
    const counts = new Map<number, number>()
    for (let i = 0; i < samples.length; i++) {
      const node = byId.get(samples[i]!)
      if (times[i]! < from || times[i]! > to || !node || NOT_SCRIPT.has(node.callFrame.functionName)) continue
      counts.set(node.id, (counts.get(node.id) ?? 0) + 1)
    }
    let best: number | undefined
    for (const [id, count] of counts) if (best === undefined || count > counts.get(best)!) best = id
    return best
  }
  const end = profile.endTime - afterMs * 1_000
  // With no sample in the window (a clock that drifted), the whole profile's last busy second is the best left.
  const leaf = mostSampled(end - busyMs * 1_000, end) ?? mostSampled(profile.endTime - FALLBACK_WINDOW_MS * 1_000, profile.endTime)
  const frames: SampledFrame[] = []
  for (let id = leaf; id !== undefined; id = parentOf.get(id)) {
    const node = byId.get(id)!
    const { functionName, url, lineNumber, columnNumber } = node.callFrame
    if (NOT_SCRIPT.has(functionName) || !url) continue
    const hottest = id === leaf && sampledLines ? [...(node.positionTicks ?? [])].sort((a, b) => b.ticks - a.ticks)[0] : undefined
    frames.push(hottest ? { functionName, url, line: hottest.line, column: null } : { functionName, url, line: lineNumber + 1, column: columnNumber + 1 })
  }
  return frames
}
