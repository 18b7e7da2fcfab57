// Viewer tokens: short-lived HS256 JWTs a browser may hold instead of the publish secret. Each names the topics
// and event types it may publish, expires (exp), and is rate-limited on its own (by jti). The signing key is
// derived from the publish secret (or --viewer-key) with HKDF, so it never equals a --jwt-key and a viewer token
// is never accepted as a publisher JWT, nor the other way round (the audience differs too).
import { hkdfSync, randomUUID } from 'node:crypto'
import { decodeJwt, errors, jwtVerify, SignJWT } from 'jose'
import { bearerMatches } from '../../shared/http-ops.ts'
import { LiveError } from '../errors.ts'
import { TokenBucket } from '../http/limits.ts'
import { parsePublishBody, parseTopic } from '../core/publish-body.ts'

export const VIEWER_AUDIENCE = 'colony-live:viewer'
export const VIEWER_ISSUER = 'colony-live'

/** Topic patterns and event types one token may publish, and for how long. */
export type ViewerGrant = {
  /** Topic names, or `prefix*` for every topic starting with prefix. */
  topics: string[]
  /** Event types (`like`, `comment`…). */
  types: string[]
  ttlMs: number
}

/** The verified claims of a viewer token. */
export type ViewerClaims = { topics: string[]; types: string[]; jti: string; iat: number; exp: number }

/** What issuing answers (POST /v1/tokens, `colony live token --json`). */
export type IssuedViewerToken = { token: string; jti: string; exp: number; expiresAt: string; topics: string[]; types: string[] }

const MAX_TOPICS = 32
const MAX_TYPES = 16

/** The HS256 key of viewer tokens, from the publish secret or --viewer-key (32 bytes of HKDF-SHA256). */
export function deriveViewerKey(material: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', material, 'colony-live viewer tokens', 'hs256 v1', 32))
}

function bad(message: string): LiveError {
  return new LiveError('LIVE_BAD_TOKEN_REQUEST', message)
}

/** Whether `patterns` (names or `prefix*`) cover `topic`. */
export function topicCovered(patterns: readonly unknown[], topic: string): boolean {
  return patterns.some((c) => typeof c === 'string' && (c === topic || c === '*' || (c.endsWith('*') && topic.startsWith(c.slice(0, -1)))))
}

function checkTopicPattern(pattern: unknown): string {
  if (typeof pattern !== 'string') throw bad('topics must be strings')
  const name = pattern.endsWith('*') ? pattern.slice(0, -1) : pattern
  // A bare `*` would let a browser publish anywhere, which is what viewer tokens exist to prevent.
  if (name === '') throw bad('a viewer token names its topics (a prefix* at least)')
  try { parseTopic(encodeURIComponent(name)) } catch { throw bad(`"${pattern}" is not a topic name or prefix*`) }
  return pattern
}

function checkType(type: unknown): string {
  if (typeof type !== 'string') throw bad('types must be strings')
  // The types a token may carry are exactly those a publish may carry: the publish parser decides.
  try { parsePublishBody(Buffer.from(JSON.stringify({ type, data: null }))) } catch (err) { throw bad(`type "${type}": ${(err as Error).message}`) }
  return type
}

function listOf(value: unknown, field: string, max: number): unknown[] {
  const items = typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter(Boolean) : value
  if (!Array.isArray(items) || items.length === 0) throw bad(`${field} must be a non-empty list`)
  if (items.length > max) throw bad(`at most ${max} ${field}`)
  return items
}

const DURATION_RE = /^(\d{1,9})(ms|s|m|h|d)?$/
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/**
 * Checks an issue request: `{topics, types, ttl}` where topics/types are lists (or comma-separated strings) and
 * ttl is seconds or a duration ("90s", "15m", "1h"). Throws LIVE_BAD_TOKEN_REQUEST.
 */
export function parseViewerGrant(input: unknown, maxTtlMs: number): ViewerGrant {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw bad('body must be {"topics":[…],"types":[…],"ttl":"1h"}')
  const { topics, types, ttl } = input as { topics?: unknown; types?: unknown; ttl?: unknown }
  let ttlMs: number
  if (typeof ttl === 'number' && Number.isFinite(ttl)) ttlMs = Math.round(ttl * 1000)
  else {
    const m = typeof ttl === 'string' ? DURATION_RE.exec(ttl.trim()) : null
    if (!m?.[1]) throw bad('ttl must be seconds or a duration such as "15m" or "1h"')
    ttlMs = Number(m[1]) * (UNIT_MS[m[2] ?? 's'] ?? 1000)
  }
  if (ttlMs < 1000) throw bad('ttl must be at least 1s')
  if (ttlMs > maxTtlMs) throw bad(`ttl over the longest allowed (${Math.round(maxTtlMs / 1000)} s, --viewer-max-ttl)`)
  return {
    topics: [...new Set(listOf(topics, 'topics', MAX_TOPICS).map(checkTopicPattern))],
    types: [...new Set(listOf(types, 'types', MAX_TYPES).map(checkType))],
    ttlMs,
  }
}

/** Signs a viewer token for `grant` (iat = now, exp = now + ttl, a random jti). */
export async function signViewerToken(key: Uint8Array, grant: ViewerGrant, now = Date.now()): Promise<IssuedViewerToken> {
  const iat = Math.floor(now / 1000)
  const exp = iat + Math.max(1, Math.round(grant.ttlMs / 1000))
  const jti = randomUUID()
  const token = await new SignJWT({ topics: grant.topics, types: grant.types })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(VIEWER_ISSUER).setAudience(VIEWER_AUDIENCE).setIssuedAt(iat).setExpirationTime(exp).setJti(jti)
    .sign(key)
  return { token, jti, exp, expiresAt: new Date(exp * 1000).toISOString(), topics: grant.topics, types: grant.types }
}

/** Whether a bearer value is a JWT meant as a viewer token (its audience; not verified here). */
export function isViewerToken(bearer: string): boolean {
  if (bearer.split('.').length !== 3) return false
  try {
    const aud = decodeJwt(bearer).aud
    return aud === VIEWER_AUDIENCE || (Array.isArray(aud) && aud.includes(VIEWER_AUDIENCE))
  } catch { return false }
}

/** Verification settings of the node. */
export type ViewerVerifyOptions = { key: Uint8Array; maxTtlMs: number; now: () => number }

/**
 * Verifies signature (HS256 only: `none` and every other alg are refused), audience, issuer, exp, iat and jti,
 * and that the token does not outlive --viewer-max-ttl. Throws LIVE_TOKEN_EXPIRED or LIVE_UNAUTHORIZED.
 */
export async function verifyViewerToken(token: string, options: ViewerVerifyOptions): Promise<ViewerClaims> {
  let payload: Record<string, unknown>
  try {
    ({ payload } = await jwtVerify(token, options.key, {
      algorithms: ['HS256'], audience: VIEWER_AUDIENCE, issuer: VIEWER_ISSUER,
      requiredClaims: ['exp', 'iat', 'jti'], currentDate: new Date(options.now()),
    }))
  } catch (err) {
    if (err instanceof errors.JWTExpired) throw new LiveError('LIVE_TOKEN_EXPIRED', 'viewer token expired; ask for a new one')
    const why = err instanceof errors.JWSSignatureVerificationFailed ? 'bad signature' : err instanceof errors.JOSEAlgNotAllowed ? 'alg must be HS256' : (err as Error).message
    throw new LiveError('LIVE_UNAUTHORIZED', `invalid viewer token: ${why}`)
  }
  const { topics, types, jti, iat, exp } = payload as { topics?: unknown; types?: unknown; jti: string; iat: number; exp: number }
  if (!Array.isArray(topics) || !Array.isArray(types) || !types.every((t) => typeof t === 'string')) throw new LiveError('LIVE_UNAUTHORIZED', 'invalid viewer token: no topics/types')
  if ((exp - iat) * 1000 > options.maxTtlMs) throw new LiveError('LIVE_UNAUTHORIZED', 'invalid viewer token: lifetime over --viewer-max-ttl')
  return { topics: topics.filter((t): t is string => typeof t === 'string'), types: types as string[], jti, iat, exp }
}

/** One token bucket per viewer token (by jti), forgotten once the token has expired. */
export class ViewerBuckets {
  readonly #buckets = new Map<string, { bucket: TokenBucket; exp: number }>()
  readonly #rate: number

  /** `rate` events per second per token, burst twice that; 0 = unlimited. */
  constructor(rate: number) {
    this.#rate = rate
  }

  get(claims: ViewerClaims, now: number): TokenBucket {
    let entry = this.#buckets.get(claims.jti)
    if (!entry) {
      if (this.#buckets.size >= 10_000) this.#sweep(now)
      entry = { bucket: new TokenBucket(this.#rate, Math.max(1, this.#rate * 2), now), exp: claims.exp }
      this.#buckets.set(claims.jti, entry)
    }
    return entry.bucket
  }

  #sweep(now: number): void {
    for (const [jti, e] of this.#buckets) if (e.exp * 1000 <= now) this.#buckets.delete(jti)
    // Bounded whatever the issuer does: tokens still valid start from a full bucket again.
    if (this.#buckets.size >= 100_000) this.#buckets.clear()
  }
}

/**
 * POST /v1/tokens: issues a viewer token to the holder of the publish secret (never to a JWT or viewer token).
 * Throws LIVE_NOT_FOUND when the node has no secret to check or no key, LIVE_UNAUTHORIZED, LIVE_BAD_TOKEN_REQUEST.
 */
export async function issueOverHttp(authorization: string | undefined, readBody: () => Promise<Buffer>, o: { secret: string | undefined; key: Uint8Array | undefined; maxTtlMs: number; now: number }): Promise<IssuedViewerToken> {
  if (!o.secret || !o.key) throw new LiveError('LIVE_NOT_FOUND', 'issuing viewer tokens over HTTP needs the node to have a publish secret (--token); use colony live token')
  if (!bearerMatches(authorization, o.secret)) throw new LiveError('LIVE_UNAUTHORIZED', 'issuing viewer tokens needs Authorization: Bearer <publish secret>')
  let input: unknown
  try { input = JSON.parse((await readBody()).toString('utf8')) } catch { throw bad('body is not JSON') }
  return signViewerToken(o.key, parseViewerGrant(input, o.maxTtlMs), o.now)
}
