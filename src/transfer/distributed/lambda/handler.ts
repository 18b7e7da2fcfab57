// colony's own Lambda handler: one copier batch per invocation, with the same core copy + verification
// a local copier uses. Redis is never reached from the function; the invoking copier settles the batch.
import type { DistributedCore } from '../core-port.ts'
import { createTransferCore } from '../core-adapter.ts'
import { DistributedTransferError } from '../errors.ts'
import { Limiter, mapLimited } from '../../../shared/limiter.ts'
import type { LambdaBatchEvent, LambdaBatchResult, RunConfig } from '../../wire-format.ts'
import { TRANSFER_DEFAULTS } from '../../defaults.ts'

const LAMBDA = TRANSFER_DEFAULTS.lambda

// Warm invocations reuse connection pools: one core per run per container.
const cores = new Map<string, DistributedCore>()

function coreFor(config: RunConfig): DistributedCore {
  const id = `${config.run}\u0000${config.createdAt}`
  let core = cores.get(id)
  if (!core) {
    core = createTransferCore(config)
    cores.set(id, core)
  }
  return core
}

export async function handler(event: LambdaBatchEvent): Promise<LambdaBatchResult> {
  if (event?.kind !== 'colony-transfer-batch' || !Array.isArray(event.files)) {
    throw new DistributedTransferError('TRANSFER_DIST_BAD_JOB', 'not a colony transfer batch event', { status: 400 })
  }
  const core = coreFor({ ...event.config, executor: 'local' })
  const limiter = new Limiter(Math.min(LAMBDA.maxFilesPerInvocation, Math.max(1, event.concurrency || LAMBDA.filesPerInvocation)))
  const signal = new AbortController().signal
  const results = await mapLimited(event.files, limiter, async (f) => ({ i: f.i, outcome: await core.copy(f.ref, { signal }) }))
  return { results }
}
