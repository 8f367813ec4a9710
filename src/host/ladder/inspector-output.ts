import { Writable } from 'node:stream'

/**
 * What a worker process prints on stderr, on its way to Vitest's error
 * stream: the lines Node prints about an inspector the watchdog opened are
 * taken out (the URL is kept for the connection), and everything else goes
 * through untouched.
 *
 * The worker is started with `--inspect-publish-uid=stderr`, so its inspector
 * URL, with the random UUID that is the only secret guarding it, is printed
 * there and nowhere else (`/json/list` answers 404). A URL printed while the
 * watchdog does not own the inspector (a user's SIGUSR1 by hand, a test's
 * `inspector.open()`, a child sharing the stderr, or any test printing the
 * same words) goes through, and is kept as a hint only: SIGUSR1 prints nothing
 * when the inspector is open already, and a stop then tries these URLs, each
 * confirmed by the worker's pid (targets.ts).
 */
const LISTENING = /^Debugger listening on (ws:\/\/\S+)/
/** URLs kept as hints: a few cover a test that opens and closes its inspector, or prints a stray line or two. */
const MAX_SEEN_URLS = 4
/** The other lines Node prints around an inspector session. */
// Node 20 points to /en/docs/inspector, Node 22 and later to /learn/getting-started/debugging.
const AROUND_A_SESSION = [/^For help, see: https:\/\/nodejs\.org\//, /^Debugger attached\./, /^Debugger ending on /, /^Waiting for the debugger to disconnect/]

export class InspectorOutput extends Writable {
  /** Set while the watchdog owns the worker's inspector (from its SIGUSR1 to its close). */
  private owned = false
  private onUrl: ((url: string) => void) | null = null
  private readonly seen: string[] = []

  constructor(private readonly target: NodeJS.WritableStream) {
    super()
  }

  /** The watchdog is about to open the inspector: `onUrl` gets its URL, whenever it comes. */
  expectUrl(onUrl: (url: string) => void): void {
    this.owned = true
    this.onUrl = onUrl
  }

  /** URLs printed while the watchdog did not own the inspector, newest first: hints of an inspector open already. */
  seenUrls(): readonly string[] {
    return this.seen
  }

  /** The watchdog closed the inspector: later lines are not its own. */
  release(): void {
    this.owned = false
    this.onUrl = null
  }

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const text = String(chunk)
    if (!text.includes('Debugger ') && !text.includes('For help, see:') && !text.includes('Waiting for the debugger')) {
      this.target.write(chunk)
      callback()
      return
    }
    const kept = text.split(/(?<=\n)/).filter((line) => this.keep(line))
    if (kept.length > 0) this.target.write(kept.join(''))
    callback()
  }

  private keep(line: string): boolean {
    const url = LISTENING.exec(line)?.[1]
    if (url) {
      if (!this.owned) {
        this.seen.splice(0, this.seen.length, ...[url, ...this.seen.filter((known) => known !== url)].slice(0, MAX_SEEN_URLS))
        return true
      }
      this.onUrl?.(url)
      return false
    }
    return !(this.owned && AROUND_A_SESSION.some((pattern) => pattern.test(line)))
  }
}
