import { Writable } from 'node:stream'

/**
 * What a worker process prints on stderr, on its way to Vitest's error
 * stream: the lines Node prints about an inspector the watchdog opened are
 * taken out (the URL is kept for the connection), and everything else goes
 * through untouched.
 *
 * The worker is started with `--inspect-publish-uid=stderr`, so its inspector
 * URL, with the random UUID that is the only secret guarding it, is printed
 * there and nowhere else (`/json/list` answers 404). An inspector the
 * watchdog did not open (a user's SIGUSR1 by hand) is a user's debugger: its
 * lines go through, and the ladder stands down for that worker.
 */
const LISTENING = /^Debugger listening on (ws:\/\/\S+)/
/** The other lines Node prints around an inspector session. */
const AROUND_A_SESSION = [/^For help, see: https:\/\/nodejs\.org\/en\/docs\/inspector/, /^Debugger attached\./, /^Debugger ending on /, /^Waiting for the debugger to disconnect/]

export class InspectorOutput extends Writable {
  /** Set while the watchdog owns the worker's inspector (from its SIGUSR1 to its close). */
  private owned = false
  private onUrl: ((url: string) => void) | null = null
  /** A user opened the inspector: stand down. */
  userDebugger = false

  constructor(private readonly target: NodeJS.WritableStream) {
    super()
  }

  /** The watchdog is about to open the inspector: `onUrl` gets its URL, whenever it comes. */
  expectUrl(onUrl: (url: string) => void): void {
    this.owned = true
    this.onUrl = onUrl
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
        this.userDebugger = true
        return true
      }
      this.onUrl?.(url)
      return false
    }
    return !(this.owned && AROUND_A_SESSION.some((pattern) => pattern.test(line)))
  }
}
