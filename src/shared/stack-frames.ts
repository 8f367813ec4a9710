import { ArrayPrototypePush, RegExpPrototypeExec, SafeNumber, StringPrototypeSplit } from './intrinsics.js'

/** A frame of a V8-format stack (`    at fn (file:line:column)`, `    at file:line:column`), as Vitest parses one: 1-based line and column. */
export interface ParsedFrame {
  file: string
  line: number
  column: number
  method: string
}

const FRAME_LINE = /^\s*at (?:(.*) \()?(.+):(\d+):(\d+)\)?$/

/** The frames of a V8-format stack, in its own coordinates; lines of another shape are left out. */
export function parsedFrames(stack: string): ParsedFrame[] {
  const frames: ParsedFrame[] = []
  const lines = StringPrototypeSplit(stack, '\n')
  for (let i = 0; i < lines.length; i++) {
    const match = RegExpPrototypeExec(FRAME_LINE, lines[i]!)
    if (match) ArrayPrototypePush(frames, { method: match[1] ?? '', file: match[2]!, line: SafeNumber(match[3]), column: SafeNumber(match[4]) })
  }
  return frames
}
