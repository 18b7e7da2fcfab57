// One place that builds S3 clients and parses s3:// locators, so sources, destinations and the distributed
// engine agree on endpoints, path style, checksum behaviour and keep-alive pools.
import type * as S3SdkModule from '@aws-sdk/client-s3'
import type { S3Client } from '@aws-sdk/client-s3'
import { TransferError, TRANSFER_CODES } from '../errors.ts'
import { TRANSFER_DEFAULTS } from '../defaults.ts'

export type S3Options = {
  /** Custom endpoint for S3-compatible stores (MinIO, s3rver, R2…); AWS_ENDPOINT_URL also works. @defaultValue AWS */
  endpoint?: string
  /** Region. @defaultValue AWS_REGION, AWS_DEFAULT_REGION or TRANSFER_DEFAULTS.s3.region */
  region?: string
  /** Path-style addressing; forced on whenever an endpoint is given. @defaultValue endpoint !== undefined */
  forcePathStyle?: boolean
  /** Static credentials (tests); otherwise the standard AWS provider chain. @defaultValue the chain */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  /** Sockets per client. @defaultValue TRANSFER_DEFAULTS.s3.maxSockets */
  maxSockets?: number
}

export type S3Location = { bucket: string; prefix: string }

/** "s3://bucket/a/b" → { bucket: 'bucket', prefix: 'a/b' }. */
export function parseS3Url(locator: string): S3Location {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(locator)
  if (!m?.[1]) throw new TransferError(TRANSFER_CODES.BAD_LOCATOR, `not an s3:// locator: ${locator}`, { status: 400 })
  return { bucket: m[1], prefix: m[2] ?? '' }
}

type S3Sdk = typeof S3SdkModule
let sdk: Promise<S3Sdk> | undefined

/** The SDK is loaded on first use: runs that never touch S3 (and every worker thread) skip its start-up cost. */
export function loadS3Sdk(): Promise<S3Sdk> {
  return (sdk ??= import('@aws-sdk/client-s3'))
}

const noop = (): void => {}

/** The endpoint a client of these options talks to: the option, else AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL. */
export function s3Endpoint(options: S3Options): string | undefined {
  return options.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL
}

/** The region a client of these options signs for: the option, else AWS_REGION, AWS_DEFAULT_REGION or the default. */
export function s3Region(options: S3Options): string {
  return options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? TRANSFER_DEFAULTS.s3.region
}

export async function createS3Client(options: S3Options = {}): Promise<S3Client> {
  const { S3Client } = await loadS3Sdk()
  // Loaded here, not imported at the top: every thread that loads the adapters (the CLI, each copy worker) would
  // otherwise pay for the http module's ESM facade, which evaluates its lazy getters and so loads Node's internal
  // undici (~65 ms a thread) even when no S3 client is ever made. getBuiltinModule gives the plain CommonJS module.
  const http = process.getBuiltinModule('node:http')
  const https = process.getBuiltinModule('node:https')
  const endpoint = s3Endpoint(options)
  const maxSockets = options.maxSockets ?? TRANSFER_DEFAULTS.s3.maxSockets
  return new S3Client({
    region: s3Region(options),
    ...(endpoint ? { endpoint } : {}),
    forcePathStyle: options.forcePathStyle ?? endpoint !== undefined,
    ...(options.credentials ? { credentials: options.credentials } : {}),
    // We verify MD5/ETag ourselves; the SDK's default CRC trailers (aws-chunked) are not understood by many
    // S3-compatible stores and cost CPU per request.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1, // the engine owns retries and puts them at the front of the queue
    // The SDK warns on stderr when a streamed upload fails; the engine reports that failure itself.
    logger: { trace: noop, debug: noop, info: noop, warn: noop, error: noop },
    requestHandler: {
      httpAgent: new http.Agent({ keepAlive: true, maxSockets }),
      httpsAgent: new https.Agent({ keepAlive: true, maxSockets }),
      connectionTimeout: TRANSFER_DEFAULTS.s3.connectTimeoutMs,
      requestTimeout: TRANSFER_DEFAULTS.s3.requestTimeoutMs,
    },
  })
}

/** Maps an SDK error to a TransferError: SlowDown/503/5xx/throttling → retryable, NoSuchKey → not found. */
export function toS3Error(err: unknown, context: string): TransferError {
  if (err instanceof TransferError) return err
  const e = err as { name?: string; Code?: string; message?: string; code?: string; $metadata?: { httpStatusCode?: number }; $response?: { headers?: Record<string, string> } }
  const name = e.name ?? e.Code ?? ''
  const status = e.$metadata?.httpStatusCode ?? 0
  const msg = `${context}: ${name || e.code || 'error'}${e.message && e.message !== name ? ` (${e.message})` : ''}`
  if (name === 'AbortError') return new TransferError(TRANSFER_CODES.ABORTED, msg, { cause: err })
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404 && name !== 'NoSuchBucket') return new TransferError(TRANSFER_CODES.NOT_FOUND, msg, { cause: err, status: 404 })
  if (name === 'NoSuchBucket') return new TransferError(TRANSFER_CODES.S3_NO_BUCKET, msg, { cause: err })
  if (name === 'AccessDenied' || name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch' || status === 403) {
    return new TransferError(TRANSFER_CODES.S3_ACCESS_DENIED, msg, { cause: err })
  }
  if (name === 'SlowDown' || name === 'Throttling' || name === 'ThrottlingException' || name === 'RequestLimitExceeded' || status === 503 || status === 429) {
    const ra = Number(e.$response?.headers?.['retry-after'])
    return new TransferError(TRANSFER_CODES.S3_SLOWDOWN, msg, { cause: err, retryable: true, retryAfterMs: Number.isFinite(ra) && ra > 0 ? ra * 1000 : 1000 })
  }
  if (status >= 500 || name === 'InternalError' || name === 'RequestTimeout' || name === 'TimeoutError') {
    return new TransferError(TRANSFER_CODES.S3, msg, { cause: err, retryable: true })
  }
  const netCode = e.code ?? ''
  if (/^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|ERR_STREAM_PREMATURE_CLOSE)$/.test(netCode)) {
    return new TransferError(TRANSFER_CODES.CONNECTION, msg, { cause: err, retryable: true })
  }
  return new TransferError(TRANSFER_CODES.S3, msg, { cause: err })
}
