import type { CopyOutcome, FileRef } from '../../core/types.ts'
import type { RunConfig } from '../run-config.ts'

/** What a copier sends to the Lambda function for one batch (no credentials: Lambda uses its role). */
export type LambdaBatchEvent = {
  kind: 'colony-transfer-batch'
  config: Pick<RunConfig, 'run' | 'sources' | 'to' | 'retries' | 'core' | 'createdAt'> & { batchSize: number; executor: 'local' }
  classId: string
  attempt: number
  files: Array<{ i: number; ref: FileRef }>
  /** Files copied at once inside the function. */
  concurrency: number
}

/** The function's answer: one outcome per file, in any order. */
export type LambdaBatchResult = { results: Array<{ i: number; outcome: CopyOutcome }> }
