import { ColonyError, type ColonyErrorOptions } from '../shared/errors.ts'

/**
 * Stable codes for everything transfer can fail on. Callers (engine, reports, distributed workers) switch on
 * the code; `retryable` says whether another attempt can help.
 */
export const TRANSFER_CODES = {
  HTTP_STATUS: 'TRANSFER_HTTP_STATUS',
  /** 429 or 503 from an HTTP origin: retried after Retry-After, and `--concurrency auto` backs off. */
  HTTP_THROTTLED: 'TRANSFER_HTTP_THROTTLED',
  CONNECTION: 'TRANSFER_CONNECTION',
  TIMEOUT: 'TRANSFER_TIMEOUT',
  TRUNCATED: 'TRANSFER_TRUNCATED',
  NOT_FOUND: 'TRANSFER_NOT_FOUND',
  NOT_PLAYLIST: 'TRANSFER_NOT_PLAYLIST',
  PLAYLIST_LOOP: 'TRANSFER_PLAYLIST_LOOP',
  PLAYLIST_TOO_LARGE: 'TRANSFER_PLAYLIST_TOO_LARGE',
  PLAYLIST_TOO_DEEP: 'TRANSFER_PLAYLIST_TOO_DEEP',
  TOO_MANY_FILES: 'TRANSFER_TOO_MANY_FILES',
  RECORDING: 'TRANSFER_RECORDING',
  FORBIDDEN_HOST: 'TRANSFER_FORBIDDEN_HOST',
  PATH_ESCAPE: 'TRANSFER_PATH_ESCAPE',
  SYMLINK_IN_DESTINATION: 'TRANSFER_SYMLINK_IN_DESTINATION',
  BAD_URI: 'TRANSFER_BAD_URI',
  BAD_LENGTH: 'TRANSFER_BAD_LENGTH',
  /** An HTTP response that is not well-formed HTTP/1.1 (status line, header fields, chunked framing). */
  BAD_RESPONSE: 'TRANSFER_BAD_RESPONSE',
  BAD_CATALOG: 'TRANSFER_BAD_CATALOG',
  BAD_LOCATOR: 'TRANSFER_BAD_LOCATOR',
  BAD_FILTER: 'TRANSFER_BAD_FILTER',
  BAD_LIMIT: 'TRANSFER_BAD_LIMIT',
  BAD_REWRITE_RULE: 'TRANSFER_BAD_REWRITE_RULE',
  S3: 'TRANSFER_S3_ERROR',
  S3_SLOWDOWN: 'TRANSFER_S3_SLOWDOWN',
  S3_ACCESS_DENIED: 'TRANSFER_S3_ACCESS_DENIED',
  S3_NO_BUCKET: 'TRANSFER_S3_NO_SUCH_BUCKET',
  WRITE: 'TRANSFER_WRITE',
  VERIFY_MISMATCH: 'TRANSFER_VERIFY_MISMATCH',
  VERIFY_MISSING: 'TRANSFER_VERIFY_MISSING',
  CHANGED: 'TRANSFER_SOURCE_CHANGED',
  ABORTED: 'TRANSFER_ABORTED',
  INTERNAL: 'TRANSFER_INTERNAL',
} as const

export type TransferErrorCode = (typeof TRANSFER_CODES)[keyof typeof TRANSFER_CODES]

export type TransferErrorOptions = ColonyErrorOptions & {
  /** Whether another attempt may succeed (5xx, resets, timeouts, truncation, SlowDown). @defaultValue false */
  retryable?: boolean
  /** Server-requested wait (Retry-After, SlowDown) before the next attempt. @defaultValue undefined */
  retryAfterMs?: number
}

export class TransferError extends ColonyError {
  readonly retryable: boolean
  readonly retryAfterMs: number | undefined

  constructor(code: TransferErrorCode, message: string, options: TransferErrorOptions = {}) {
    super(code, message, options)
    this.retryable = options.retryable ?? false
    this.retryAfterMs = options.retryAfterMs
  }
}

const RETRYABLE_NET = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE', 'ECONNABORTED'])

/** Maps anything thrown by a transport into a TransferError, keeping a thrown TransferError as is. */
export function toTransferError(err: unknown, context: string): TransferError {
  if (err instanceof TransferError) return err
  const e = err as { code?: unknown; name?: string; message?: string } | undefined
  // DOMExceptions (an AbortSignal's reason) carry a numeric code.
  const code = typeof e?.code === 'string' ? e.code : ''
  if (e?.name === 'AbortError') return new TransferError(TRANSFER_CODES.ABORTED, `${context}: aborted`, { cause: err })
  if (code.includes('TIMEOUT') || code === 'ETIMEDOUT') {
    return new TransferError(TRANSFER_CODES.TIMEOUT, `${context}: ${e?.message ?? code}`, { cause: err, retryable: true })
  }
  if (code === 'ERR_STREAM_PREMATURE_CLOSE') {
    return new TransferError(TRANSFER_CODES.TRUNCATED, `${context}: body ended early (${e?.message ?? code})`, { cause: err, retryable: true })
  }
  if (RETRYABLE_NET.has(code)) {
    return new TransferError(TRANSFER_CODES.CONNECTION, `${context}: ${e?.message ?? code}`, { cause: err, retryable: true })
  }
  if (code === 'ENOENT') return new TransferError(TRANSFER_CODES.NOT_FOUND, `${context}: not found`, { cause: err })
  if (code === 'COLONY_PATH_ESCAPE') return new TransferError(TRANSFER_CODES.PATH_ESCAPE, `${context}: ${e?.message ?? ''}`, { cause: err })
  if (code === 'COLONY_FORBIDDEN_TARGET') return new TransferError(TRANSFER_CODES.FORBIDDEN_HOST, `${context}: ${e?.message ?? ''}`, { cause: err })
  if (code === 'ENOSPC' || code === 'EACCES' || code === 'EROFS' || code === 'EISDIR' || code === 'ENOTDIR') {
    return new TransferError(TRANSFER_CODES.WRITE, `${context}: ${e?.message ?? code}`, { cause: err })
  }
  return new TransferError(TRANSFER_CODES.INTERNAL, `${context}: ${e?.message ?? String(err)}`, { cause: err, retryable: code === 'EMFILE' || code === 'EBUSY' })
}
