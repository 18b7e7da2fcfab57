import { ColonyError, type ColonyErrorOptions } from '../shared/errors.ts'

/**
 * Stable codes of the live subsystem. Clients switch on these, never on message text.
 * - LIVE_BAD_TOPIC (400) topic name outside [A-Za-z0-9._~:-]{1,128}
 * - LIVE_BAD_EVENT (400) publish body is not {type,data} / {events:[…]} / […] or a type is malformed
 * - LIVE_EVENT_TOO_LARGE (413) with peer DCs: an event that could not be forwarded alone within the body limit
 * - LIVE_UNAUTHORIZED (401) publish without a valid bearer token / JWT
 * - LIVE_FORBIDDEN_TOPIC (403) a JWT or viewer token whose `topics` claim does not cover the topic
 * - LIVE_FORBIDDEN_TYPE (403) a viewer token whose `types` claim does not cover an event's type
 * - LIVE_TOKEN_EXPIRED (401) a viewer token past its exp
 * - LIVE_BAD_TOKEN_REQUEST (400) a viewer-token request with bad topics, types or ttl
 * - LIVE_TOO_MANY_CONNECTIONS (429) per-IP connection cap reached
 * - LIVE_CONNECTION_RATE (429) new-connection rate exceeded (reconnect storm guard)
 * - LIVE_RATE_LIMITED (429) publish rate exceeded
 * - LIVE_SHUTTING_DOWN (503) node is draining
 * - LIVE_TRANSPORT (502) the dispatcher (Redis / cluster primary) failed the publish
 * - LIVE_NOT_FOUND (404) no such route
 * - LIVE_METHOD_NOT_ALLOWED (405) a route that does not take this method (the `allow` header lists those it does)
 * - LIVE_BAD_REQUEST (400) a request node:http cannot parse (unknown method, bad framing) or whose target is not a path
 * - LIVE_HEADERS_TOO_LARGE (431) request head over --max-header
 * - LIVE_REQUEST_TIMEOUT (408) a request node:http did not receive within its deadline
 * - LIVE_CONFIG (2 at the CLI) contradictory or missing server options
 */
export type LiveErrorCode =
  | 'LIVE_BAD_TOPIC' | 'LIVE_BAD_EVENT' | 'LIVE_EVENT_TOO_LARGE' | 'LIVE_UNAUTHORIZED' | 'LIVE_FORBIDDEN_TOPIC'
  | 'LIVE_TOO_MANY_CONNECTIONS' | 'LIVE_CONNECTION_RATE' | 'LIVE_RATE_LIMITED'
  | 'LIVE_SHUTTING_DOWN' | 'LIVE_TRANSPORT' | 'LIVE_NOT_FOUND' | 'LIVE_CONFIG'
  | 'LIVE_FORBIDDEN_TYPE' | 'LIVE_TOKEN_EXPIRED' | 'LIVE_BAD_TOKEN_REQUEST'
  | 'LIVE_METHOD_NOT_ALLOWED' | 'LIVE_BAD_REQUEST' | 'LIVE_HEADERS_TOO_LARGE' | 'LIVE_REQUEST_TIMEOUT'

const STATUS: Record<LiveErrorCode, number> = {
  LIVE_BAD_TOPIC: 400, LIVE_BAD_EVENT: 400, LIVE_EVENT_TOO_LARGE: 413, LIVE_UNAUTHORIZED: 401, LIVE_FORBIDDEN_TOPIC: 403,
  LIVE_TOO_MANY_CONNECTIONS: 429, LIVE_CONNECTION_RATE: 429, LIVE_RATE_LIMITED: 429,
  LIVE_SHUTTING_DOWN: 503, LIVE_TRANSPORT: 502, LIVE_NOT_FOUND: 404, LIVE_CONFIG: 400,
  LIVE_FORBIDDEN_TYPE: 403, LIVE_TOKEN_EXPIRED: 401, LIVE_BAD_TOKEN_REQUEST: 400,
  LIVE_METHOD_NOT_ALLOWED: 405, LIVE_BAD_REQUEST: 400, LIVE_HEADERS_TOO_LARGE: 431, LIVE_REQUEST_TIMEOUT: 408,
}

export class LiveError extends ColonyError {
  constructor(code: LiveErrorCode, message: string, options: ColonyErrorOptions = {}) {
    super(code, message, { status: STATUS[code], ...options })
  }
}
