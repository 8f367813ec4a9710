/**
 * Frames the page reported, in the coordinates Vite served it (URLs of the
 * dev server, transformed code), put back into the original source through
 * the same source maps Vitest uses for browser errors
 * (`project.browser.parseStacktrace`).
 */
import { relative } from 'node:path'
import type { TestProject } from 'vitest/node'
import { isWatchdogCode } from '../../shared/own-files.js'
import type { SourceLocation } from '../../shared/stop.js'

interface Frame {
  file: string
  line: number
  column: number
  method: string
}

/**
 * V8 stacks, Node's reports and editors count columns from 1. Vitest 4's
 * mapping gives them 0-based, Vitest 5's 1-based (seen: the same stuck
 * `while` at column 3 read as 2 and as 3).
 */
function framesOf(project: TestProject, stack: string): Frame[] {
  const browser = (project as unknown as { browser?: { parseStacktrace(stack: string): Frame[] } }).browser
  const shift = Number(project.vitest.version.split('.')[0]) < 5 ? 1 : 0
  return (browser?.parseStacktrace(stack) ?? []).map((frame) => ({ ...frame, column: frame.column + shift }))
}

function isUser(frame: Frame): boolean {
  return !frame.file.includes('/node_modules/') && !frame.file.includes('/@vite') && !frame.file.includes('__vitest') && !isWatchdogCode(frame.file)
}

/** V8-format frames in original coordinates, absolute paths; the watchdog's own page code is left out, as Vitest leaves its own out. */
export function originalStack(project: TestProject, stack: string): string {
  return framesOf(project, stack).filter((f) => !isWatchdogCode(f.file)).map((f) => `    at ${f.method || '<anonymous>'} (${f.file}:${f.line}:${f.column})`).join('\n')
}

/** The first frame in the user's own code, original coordinates; the file relative to the root when `relativeTo` is given. */
export function userLocation(project: TestProject, stack: string, relativeTo?: string): SourceLocation | null {
  const user = framesOf(project, stack).find(isUser)
  if (!user) return null
  return { file: relativeTo ? relative(relativeTo, user.file) || user.file : user.file, line: user.line, column: user.column }
}

/** For leaks: the frames from the first user frame on (the watchdog's own wrapper is not the user's). */
export function userStack(project: TestProject, stack: string): string {
  const frames = framesOf(project, stack)
  const first = frames.findIndex(isUser)
  return frames.slice(Math.max(0, first)).map((f) => `    at ${f.method || '<anonymous>'} (${f.file}:${f.line}:${f.column})`).join('\n')
}
