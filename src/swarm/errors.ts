import { ColonyError, type ColonyErrorOptions } from '../shared/errors.ts'

/**
 * Stable codes of the swarm subsystem. Callers switch on these, never on message text.
 * The HTTP status is what the agent's REST API answers with.
 */
export const SWARM_ERROR_CODES = {
  /** The request is malformed (bad JSON, missing url, bad sha256, bad Range). 400 */
  badRequest: 'SWARM_BAD_REQUEST',
  /** A mutating call without the agent's bearer token. 401 */
  unauthorized: 'SWARM_UNAUTHORIZED',
  /** No download with that id / for that URL. 404 */
  notFound: 'SWARM_NOT_FOUND',
  /** The origin answered with an error, gave no usable length, or kept failing after the retries. 502 */
  originFailed: 'SWARM_ORIGIN_FAILED',
  /** The object changed at the origin while it was being fetched (validator moved). 409 */
  originChanged: 'SWARM_ORIGIN_CHANGED',
  /** The finished file does not have the sha256 the caller asked for. 422 */
  sha256Mismatch: 'SWARM_SHA256_MISMATCH',
  /** The index (etcd) could not be reached or answered garbage. 503 */
  indexUnavailable: 'SWARM_INDEX_UNAVAILABLE',
  /** A torrent from the index or the disk could not be parsed or does not match the object. 502 */
  torrentInvalid: 'SWARM_TORRENT_INVALID',
  /** The BitTorrent engine failed (store error, engine destroyed). 500 */
  engineFailed: 'SWARM_ENGINE_FAILED',
  /** The configured engine's program (aria2c) is not installed. 500 */
  engineMissing: 'SWARM_ENGINE_MISSING',
  /** The download was cancelled (DELETE, agent shutting down). 409 */
  cancelled: 'SWARM_CANCELLED',
  /** The agent could not reach another agent's API (client side). 502 */
  agentUnreachable: 'SWARM_AGENT_UNREACHABLE',
  /** The request's Host header is not the API's bind address nor an --api-allowed-host name (DNS rebinding). 421 */
  badHost: 'SWARM_BAD_HOST',
  /** A browser request from another origin (Origin header, Sec-Fetch-Site cross-site/same-site). 403 */
  crossOrigin: 'SWARM_CROSS_ORIGIN',
  /** A POST (or any call with a body) whose Content-Type is not application/json. 415 */
  unsupportedMediaType: 'SWARM_UNSUPPORTED_MEDIA_TYPE',
  /** The client address already has --api-max-active downloads running that it started. 429 */
  quota: 'SWARM_QUOTA',
  /** The client address starts downloads faster than --api-start-rate allows. 429 */
  rateLimited: 'SWARM_RATE_LIMITED',
  /** No peer served the download within --stall-timeout / --swarm-deadline, and back-to-source is off. 504 */
  stalled: 'SWARM_STALLED',
} as const

export type SwarmErrorCode = (typeof SWARM_ERROR_CODES)[keyof typeof SWARM_ERROR_CODES]

const STATUS: Record<SwarmErrorCode, number> = {
  SWARM_BAD_REQUEST: 400,
  SWARM_UNAUTHORIZED: 401,
  SWARM_NOT_FOUND: 404,
  SWARM_ORIGIN_FAILED: 502,
  SWARM_ORIGIN_CHANGED: 409,
  SWARM_SHA256_MISMATCH: 422,
  SWARM_INDEX_UNAVAILABLE: 503,
  SWARM_TORRENT_INVALID: 502,
  SWARM_ENGINE_FAILED: 500,
  SWARM_ENGINE_MISSING: 500,
  SWARM_CANCELLED: 409,
  SWARM_AGENT_UNREACHABLE: 502,
  SWARM_BAD_HOST: 421,
  SWARM_CROSS_ORIGIN: 403,
  SWARM_UNSUPPORTED_MEDIA_TYPE: 415,
  SWARM_QUOTA: 429,
  SWARM_RATE_LIMITED: 429,
  SWARM_STALLED: 504,
}

/** Every failure the swarm subsystem raises on purpose. */
export class SwarmError extends ColonyError {
  declare readonly code: SwarmErrorCode

  constructor(code: SwarmErrorCode, message: string, options: ColonyErrorOptions = {}) {
    super(code, message, { status: STATUS[code], ...options })
  }
}

export function isSwarmError(err: unknown): err is SwarmError {
  return err instanceof SwarmError
}
