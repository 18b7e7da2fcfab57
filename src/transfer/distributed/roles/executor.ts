// Where a copy batch runs: in this process (local) or in AWS Lambda. Both return one CopyOutcome per
// file; the copier settles them the same way, so retries and accounting do not depend on the executor.
import type { CopyOutcome, FileRef } from '../../core/types.ts'
import type { DistributedCore } from '../core-port.ts'
import { Limiter } from '../../../shared/limiter.ts'
import type { RunConfig } from '../../wire-format.ts'

export type BatchFile = { i: number; ref: FileRef }
export type BatchResult = { i: number; outcome: CopyOutcome }

export interface BatchExecutor {
  readonly kind: 'local' | 'lambda'
  run(config: RunConfig, classId: string, files: BatchFile[], attempt: number, signal: AbortSignal): Promise<BatchResult[]>
}

/** Copies with the run's shared core, at most `concurrency` files at once across all batches. */
export class LocalExecutor implements BatchExecutor {
  readonly kind = 'local'
  readonly #limiter: Limiter
  readonly #coreFor: (config: RunConfig) => Promise<DistributedCore>

  constructor(options: { concurrency: number; coreFor: (config: RunConfig) => Promise<DistributedCore> }) {
    this.#limiter = new Limiter(options.concurrency)
    this.#coreFor = options.coreFor
  }

  async run(config: RunConfig, _classId: string, files: BatchFile[], _attempt: number, signal: AbortSignal): Promise<BatchResult[]> {
    const core = await this.#coreFor(config)
    const limiter = this.#limiter
    const out = new Array<BatchResult>(files.length)
    const opts = { signal }
    // Tens of thousands of files a second: one copy promise per file and nothing else (no wrapper
    // closures or per-file async frames around it); a slot is taken synchronously when one is free.
    let left = files.length
    let finish: () => void = () => {}
    const all = new Promise<void>((resolve) => { finish = resolve })
    for (let k = 0; k < files.length; k++) {
      const f = files[k] as BatchFile
      if (!limiter.tryAcquire()) await limiter.acquire()
      const settle = (outcome: CopyOutcome): void => {
        out[k] = { i: f.i, outcome }
        limiter.release()
        if (--left === 0) finish()
      }
      core.copy(f.ref, opts).then(settle, (err: unknown) => settle({ ok: false, key: f.ref.key, code: 'TRANSFER_INTERNAL', message: (err as Error)?.message ?? String(err), retryable: true }))
    }
    if (files.length) await all
    return out
  }
}
