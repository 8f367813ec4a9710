/**
 * Text the user controls (test, describe, file and project names, quoted
 * error messages), made safe for one line the plugin prints. A newline in a
 * test's name would otherwise start a line of its own, and under GitHub
 * Actions a line that begins with `::` is a workflow command (an annotation,
 * a masked value, a stop of command processing).
 */

/** C0 and C1 control characters, DEL, and the Unicode line and paragraph separators. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }

/**
 * `text` with every control character escaped (`\n`, `\x1b`, `\u2028`), so it
 * stays on its line; under GitHub Actions, a leading `::` (after spaces) is
 * escaped too, since the runner trims a line before it looks for a command.
 * Used for every fragment a printed line takes from outside the plugin.
 */
export function oneLine(text: string): string {
  const escaped = String(text).replace(CONTROL, escapeControl)
  return underGitHubActions() ? escaped.replace(/^(\s*):/, '$1\\x3a') : escaped
}

function escapeControl(char: string): string {
  const code = char.charCodeAt(0)
  return NAMED[char] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`)
}

/** Also read in a page (describeStop words stops there), where there is no `process`. */
function underGitHubActions(): boolean {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.GITHUB_ACTIONS === 'true'
}
