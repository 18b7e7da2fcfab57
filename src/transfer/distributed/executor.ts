// Where a copy batch runs: in this process (local) or in AWS Lambda. Both return one CopyOutcome per
// file; the copier settles them the same way, so retries and accounting do not depend on the executor.
import type { CopyOutcome, FileRef } from '../types.ts'
import type { DistributedCore } from './core-port.ts'
import type { RunConfig } from './run-config.ts'
import { Limiter, mapLimited } from './limiter.ts'

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
    return mapLimited(files, this.#limiter, async (f) => ({ i: f.i, outcome: await core.copy(f.ref, { signal }) }))
  }
}
