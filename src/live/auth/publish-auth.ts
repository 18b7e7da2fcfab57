import { createHmac, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { bearerMatches } from '../../shared/http-ops.ts'
import { LiveError } from '../errors.ts'
import { isViewerToken, topicCovered, verifyViewerToken, type ViewerClaims, type ViewerVerifyOptions } from './viewer-tokens.ts'

/** Who may publish. At least one of token / jwtKey must be set; any may be (each is accepted). */
export type PublishAuthOptions = {
  /** Shared secret compared in constant time with `Authorization: Bearer <token>`. @defaultValue undefined */
  token?: string
  /** HS256 key: a bearer JWT signed with it (exp/nbf checked; an optional `topics` claim limits topics). @defaultValue undefined */
  jwtKey?: string
  /** Accept viewer tokens verified with these settings (viewer-tokens.ts). @defaultValue undefined (refused) */
  viewer?: ViewerVerifyOptions
}

/** Who a publish comes from: the secret's holder, a publisher JWT, or a viewer token (limited to its claims). */
export type Publisher = { kind: 'secret' } | { kind: 'jwt' } | { kind: 'viewer'; claims: ViewerClaims }

function base64urlDecode(text: string): Buffer {
  return Buffer.from(text, 'base64url')
}

/** Verifies an HS256 JWT with node:crypto; returns its claims or throws LIVE_UNAUTHORIZED. */
export function verifyJwtHs256(token: string, key: string, now = Date.now()): Record<string, unknown> {
  const parts = token.split('.')
  if (parts.length !== 3) throw new LiveError('LIVE_UNAUTHORIZED', 'malformed JWT')
  const [h, p, sig] = parts as [string, string, string]
  let header: { alg?: unknown; typ?: unknown }
  let claims: Record<string, unknown>
  try {
    header = JSON.parse(base64urlDecode(h).toString('utf8')) as { alg?: unknown }
    claims = JSON.parse(base64urlDecode(p).toString('utf8')) as Record<string, unknown>
  } catch {
    throw new LiveError('LIVE_UNAUTHORIZED', 'malformed JWT')
  }
  // Pinning the algorithm is what stops the classic alg=none / alg confusion attacks.
  if (header.alg !== 'HS256') throw new LiveError('LIVE_UNAUTHORIZED', 'JWT alg must be HS256')
  const expected = createHmac('sha256', key).update(`${h}.${p}`).digest()
  const given = base64urlDecode(sig)
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new LiveError('LIVE_UNAUTHORIZED', 'bad JWT signature')
  const secs = now / 1000
  if (typeof claims.exp === 'number' && secs >= claims.exp) throw new LiveError('LIVE_UNAUTHORIZED', 'JWT expired')
  if (typeof claims.nbf === 'number' && secs < claims.nbf) throw new LiveError('LIVE_UNAUTHORIZED', 'JWT not yet valid')
  if (claims.exp === undefined) throw new LiveError('LIVE_UNAUTHORIZED', 'JWT without exp is refused')
  return claims
}

/** Signs an HS256 JWT (tests, `colony live publish --jwt-key`). */
export function signJwtHs256(claims: Record<string, unknown>, key: string): string {
  const h = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url')
  const p = Buffer.from(JSON.stringify(claims)).toString('base64url')
  const sig = createHmac('sha256', key).update(`${h}.${p}`).digest('base64url')
  return `${h}.${p}.${sig}`
}

function topicAllowed(claim: unknown, topic: string): boolean {
  if (claim === undefined) return true
  return Array.isArray(claim) && topicCovered(claim, topic)
}

/** Throws LIVE_UNAUTHORIZED / LIVE_FORBIDDEN_TOPIC unless the request may publish to `topic`. */
export function assertPublishAllowed(req: IncomingMessage, topic: string, options: PublishAuthOptions): void {
  assertAuthorization(req.headers.authorization, topic, options)
}

/** The same check on the value of an `Authorization` header (requests read off a bare socket); viewer tokens are refused. */
export function assertAuthorization(authorization: string | undefined, topic: string, options: PublishAuthOptions): void {
  if (options.token && bearerMatches(authorization, options.token)) return
  const bearer = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1]
  if (options.jwtKey && bearer && bearer.split('.').length === 3 && !isViewerToken(bearer)) {
    const claims = verifyJwtHs256(bearer, options.jwtKey)
    if (!topicAllowed(claims.topics, topic)) throw new LiveError('LIVE_FORBIDDEN_TOPIC', `token does not cover topic ${topic}`)
    return
  }
  throw new LiveError('LIVE_UNAUTHORIZED', 'publishing needs Authorization: Bearer <token>')
}

/**
 * Who may publish to `topic` with this `Authorization` value. A viewer token is checked for its topics here;
 * its types are checked against the parsed events by the caller. Throws LIVE_UNAUTHORIZED, LIVE_TOKEN_EXPIRED
 * or LIVE_FORBIDDEN_TOPIC.
 */
export async function authorizePublish(authorization: string | undefined, topic: string, options: PublishAuthOptions): Promise<Publisher> {
  if (options.token && bearerMatches(authorization, options.token)) return { kind: 'secret' }
  const bearer = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1]
  if (options.viewer && bearer && isViewerToken(bearer)) {
    const claims = await verifyViewerToken(bearer, options.viewer)
    if (!topicCovered(claims.topics, topic)) throw new LiveError('LIVE_FORBIDDEN_TOPIC', `viewer token does not cover topic ${topic}`)
    return { kind: 'viewer', claims }
  }
  assertAuthorization(authorization, topic, { ...options, token: undefined })
  return { kind: 'jwt' }
}
