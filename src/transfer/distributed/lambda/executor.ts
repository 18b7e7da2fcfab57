// Copier batches run in AWS Lambda: one Invoke (RequestResponse) per batch. A failed invoke (throttle,
// network, function error) fails every file of the batch as retryable, so retries, their priority and
// the accounting are exactly those of a local copier.
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda'
import type { BatchExecutor, BatchFile, BatchResult } from '../roles/executor.ts'
import { Limiter } from '../../../shared/limiter.ts'
import type { LambdaBatchEvent, LambdaBatchResult, RunConfig } from '../../wire-format.ts'
import { TRANSFER_DEFAULTS } from '../../defaults.ts'

export type LambdaExecutorOptions = {
  /** Function name or ARN (a run's --function overrides it). */
  functionName?: string
  /** Invoke API endpoint (a local endpoint in tests). @defaultValue the AWS regional endpoint */
  endpoint?: string
  /** @defaultValue AWS_REGION or TRANSFER_DEFAULTS.lambda.region */
  region?: string
  /** Invocations in flight from this worker. @defaultValue TRANSFER_DEFAULTS.lambda.concurrency */
  concurrency?: number
  /** Copies at once inside one invocation. @defaultValue TRANSFER_DEFAULTS.lambda.filesPerInvocation */
  filesPerInvocation?: number
  /** Client (tests inject one with static credentials). @defaultValue a new LambdaClient */
  client?: LambdaClient
}

export class LambdaExecutor implements BatchExecutor {
  readonly kind = 'lambda'
  readonly #client: LambdaClient
  readonly #options: LambdaExecutorOptions
  readonly #limiter: Limiter

  constructor(options: LambdaExecutorOptions = {}) {
    this.#options = options
    this.#client = options.client ?? new LambdaClient({
      region: options.region ?? process.env.AWS_REGION ?? TRANSFER_DEFAULTS.lambda.region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      maxAttempts: 1,
    })
    this.#limiter = new Limiter(options.concurrency ?? TRANSFER_DEFAULTS.lambda.concurrency)
  }

  async run(config: RunConfig, classId: string, files: BatchFile[], attempt: number, signal: AbortSignal): Promise<BatchResult[]> {
    const functionName = config.lambdaFunction ?? this.#options.functionName
    const event: LambdaBatchEvent = {
      kind: 'colony-transfer-batch',
      config: { run: config.run, sources: config.sources, to: config.to, retries: config.retries, core: config.core, createdAt: config.createdAt, batchSize: config.batchSize, executor: 'local' },
      classId, attempt, files, concurrency: this.#options.filesPerInvocation ?? TRANSFER_DEFAULTS.lambda.filesPerInvocation,
    }
    const failAll = (code: string, message: string): BatchResult[] =>
      files.map((f) => ({ i: f.i, outcome: { ok: false, key: f.ref.key, code, message, retryable: true } }))
    if (!functionName) return failAll('TRANSFER_DIST_LAMBDA_INVOKE', 'no Lambda function configured (--function)')
    return this.#limiter.run(async () => {
      try {
        const res = await this.#client.send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'RequestResponse', Payload: Buffer.from(JSON.stringify(event)) }), { abortSignal: signal })
        const text = res.Payload ? Buffer.from(res.Payload).toString('utf8') : ''
        if (res.FunctionError) return failAll('TRANSFER_DIST_LAMBDA_FUNCTION', `function ${functionName} failed: ${text.slice(0, 300)}`)
        const body = JSON.parse(text) as LambdaBatchResult
        const byIndex = new Map(body.results.map((r) => [r.i, r]))
        return files.map((f) => byIndex.get(f.i) ?? { i: f.i, outcome: { ok: false, key: f.ref.key, code: 'TRANSFER_DIST_LAMBDA_FUNCTION', message: 'no outcome for this file in the function result', retryable: true } })
      } catch (err) {
        return failAll('TRANSFER_DIST_LAMBDA_INVOKE', `invoke ${functionName}: ${(err as Error).message}`)
      }
    })
  }
}
