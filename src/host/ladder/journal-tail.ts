import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { parseJournal, type JournalLine } from '../../shared/journal.js'

/**
 * Reads a live worker's journal as it grows: only the bytes added since the
 * last read, and only whole lines (a line being written is kept for the next
 * read).
 */
export class JournalTail {
  private fd: number | null = null
  private offset = 0
  /** Bytes after the last newline: a line still being written (cut on bytes, not characters). */
  private partial = Buffer.alloc(0)

  /** `only`: the kinds of line the reader wants (parseJournal); the others are not parsed. */
  constructor(private readonly path: string, private readonly only?: ReadonlySet<JournalLine['kind']>) {
    // Opened now, while its name is sure to be there (host/worker-scratch.ts creates it): a test may remove the directory.
    try {
      this.fd = openSync(path, 'r')
    } catch {
      // Not there: opened at a later read.
    }
  }

  /** Throws WatchdogJournalVersionError when the journal is of another version. */
  read(): JournalLine[] {
    let bytes: Buffer
    try {
      this.fd ??= openSync(this.path, 'r')
      const size = fstatSync(this.fd).size
      if (size <= this.offset) return []
      const buffer = Buffer.alloc(size - this.offset)
      const read = readSync(this.fd, buffer, 0, buffer.length, this.offset)
      this.offset += read
      bytes = Buffer.concat([this.partial, buffer.subarray(0, read)])
    } catch {
      // Not there (yet), or removed with the worker.
      return []
    }
    const end = bytes.lastIndexOf(0x0a) + 1
    this.partial = Buffer.from(bytes.subarray(end))
    return parseJournal(bytes.toString('utf8', 0, end), this.only)
  }

  close(): void {
    if (this.fd !== null) {
      try {
        closeSync(this.fd)
      } catch {
        // Already closed.
      }
    }
    this.fd = null
  }
}
