import { LIVE_DEFAULTS } from '../defaults.ts'
import { LiveError } from '../errors.ts'
import type { PublishInput } from '../types.ts'

const TYPE_RE = /^[A-Za-z0-9_.:-]{1,64}$/
const TOPIC_RE = /^[A-Za-z0-9._~:-]{1,128}$/
/** Event names the server itself emits; a publisher may not forge them. */
const RESERVED = new Set(['reset', 'reconnect', 'error', 'message'])

/**
 * Decodes and checks a topic path segment; throws LIVE_BAD_TOPIC. `.` and `..` are refused: URL resolution
 * (browsers, fetch, proxies) removes them as dot segments, so no client could subscribe to such a topic.
 */
export function parseTopic(segment: string): string {
  let topic: string
  try { topic = decodeURIComponent(segment) } catch { topic = '' }
  if (!TOPIC_RE.test(topic) || topic === '.' || topic === '..') throw new LiveError('LIVE_BAD_TOPIC', 'topic must match [A-Za-z0-9._~:-]{1,128} and not be . or ..')
  return topic
}

/** `data` as one line of canonical JSON; a value nested too deeply to serialise is the publisher's error. */
function canonicalData(data: unknown, index: number): string {
  try { return JSON.stringify(data ?? null) } catch { throw new LiveError('LIVE_BAD_EVENT', `event ${index}: data nests too deeply`) }
}

/** Options of publish-body parsing. */
export type ParsePublishOptions = {
  /** Events in one request. @defaultValue LIVE_DEFAULTS.server.maxBatch */
  maxEvents?: number
  /** Accept `origin`/`ts` fields (only for requests from a peer DC). @defaultValue false */
  forwarded?: boolean
}

/**
 * Accepts `{type, data}`, `{events: [{type, data}, …]}` or `[{type, data}, …]`. `data` is any JSON value;
 * it is re-serialised so every stored payload is one line of canonical JSON.
 */
export function parsePublishBody(body: Buffer, options: ParsePublishOptions = {}): PublishInput[] {
  let parsed: unknown
  try { parsed = JSON.parse(body.toString('utf8')) } catch { throw new LiveError('LIVE_BAD_EVENT', 'body is not JSON') }
  const list: unknown[] = Array.isArray(parsed) ? parsed
    : typeof parsed === 'object' && parsed !== null && Array.isArray((parsed as { events?: unknown }).events) ? (parsed as { events: unknown[] }).events
      : [parsed]
  const max = options.maxEvents ?? LIVE_DEFAULTS.server.maxBatch
  if (list.length === 0) throw new LiveError('LIVE_BAD_EVENT', 'no events in body')
  if (list.length > max) throw new LiveError('LIVE_BAD_EVENT', `at most ${max} events per request`)
  return list.map((item, i) => {
    if (typeof item !== 'object' || item === null) throw new LiveError('LIVE_BAD_EVENT', `event ${i} is not an object`)
    const { type, data, origin, ts } = item as { type?: unknown; data?: unknown; origin?: unknown; ts?: unknown }
    if (typeof type !== 'string' || !TYPE_RE.test(type)) throw new LiveError('LIVE_BAD_EVENT', `event ${i}: type must match [A-Za-z0-9_.:-]{1,64}`)
    if (RESERVED.has(type)) throw new LiveError('LIVE_BAD_EVENT', `event ${i}: type "${type}" is reserved`)
    const input: PublishInput = { type, data: canonicalData(data, i) }
    if (options.forwarded) {
      if (typeof origin !== 'string' || origin.length === 0 || origin.length > 200) throw new LiveError('LIVE_BAD_EVENT', `event ${i}: forwarded events need an origin id`)
      input.origin = origin
      // A publish time the peer stamped; anything but a plausible ms timestamp is replaced by this node's clock.
      if (typeof ts === 'number' && Number.isSafeInteger(ts) && ts >= 0) input.ts = ts
    }
    return input
  })
}
