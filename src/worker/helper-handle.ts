import { isMainThread, threadId, Worker } from 'node:worker_threads'
import { createChannel, type Channel, type HelperData, type RunningTest, type Verdict } from './channel.js'

/** The test thread's handle on its helper thread (worker/helper.ts). */
export class Helper {
  readonly channel: Channel = createChannel()
  private readonly worker: Worker
  private readonly pending = new Map<number, (verdict: Verdict) => void>()

  constructor(grace: number, root: string, killLogFile: string | null) {
    const data: HelperData = { sab: this.channel.sab, grace, root, threadId: isMainThread ? null : threadId, killLogFile }
    this.worker = new Worker(new URL('./worker/helper.js', ownDistUrl()), { workerData: data, name: 'vitest-watchdog helper' })
    // The helper must never keep the test process alive.
    this.worker.unref()
    this.worker.on('message', (verdict: Verdict) => {
      this.pending.get(verdict.seq)?.(verdict)
      this.pending.delete(verdict.seq)
    })
    this.worker.on('error', (error) => {
      process.stderr.write(`vitest-watchdog: the helper thread failed; hung tests will not be interrupted in this worker: ${error.stack ?? error}\n`)
    })
  }

  /** Who is running, in case the helper has to kill this worker and leave a record. */
  started(test: RunningTest): void {
    this.worker.postMessage(test)
  }

  /** Resolves when the helper reports on run `seq`. */
  verdictFor(seq: number): Promise<Verdict> {
    return new Promise((resolve) => this.pending.set(seq, resolve))
  }

  /** The run ended without a verdict. */
  forget(seq: number): void {
    this.pending.delete(seq)
  }
}

function ownDistUrl(): URL {
  // Bundling may put this module in dist/ or dist/worker/.
  return new URL(import.meta.url.includes('/worker/') ? '../' : './', import.meta.url)
}
