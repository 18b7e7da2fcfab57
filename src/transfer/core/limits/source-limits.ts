// --bwlimit and --max-rps applied to a Source: every request (GET of a file or playlist, HEAD) first takes a request
// token, and every body is throttled while it streams (each chunk takes its bytes before it is passed on, so the
// reader stops pulling and TCP backpressure slows the origin). Playlists read whole are paced by their size after the
// read. Nothing here runs when no limit is set: the router calls in only when it has limits.
import { Transform, type Readable, type TransformCallback } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import type { SourceObject } from '../ports.ts'
import { TransferError, TRANSFER_CODES } from '../../errors.ts'
import { isUnlimited, parseBwSchedule, rateAt, isTimeZone } from './bwlimit-schedule.ts'
import { byteBurst, cachedRate, requestBurst, SharedPacer, wallClock, type Clock, type Pacer, type RateFn } from './rate-limit.ts'
import { Limiter } from '../../../shared/limiter.ts'

/** A run's limits as the user gave them (plain JSON: stored in a distributed run, posted to copy threads). */
export type LimitSpec = {
  /** Bytes/s read from the sources: a rate or a timetable (bwlimit-schedule.ts). @defaultValue no limit */
  bwlimit?: string
  /** Requests/s to the sources (GET and HEAD, crawling included). @defaultValue no limit */
  maxRps?: number
  /** IANA zone the timetable's times are in. @defaultValue the local time zone of the process */
  timeZone?: string
}

/** The pacers a SourceRouter applies; either may be absent. */
/**
 * `slots`: at most the router's connections per origin of its requests open at once, so a request takes its token
 * when a connection is free for it, not before a wait in the connection pool that would let requests paced apart
 * reach the origin together.
 */
export type SourceLimits = { bytes?: Pacer; requests?: Pacer; slots?: Limiter }

/** A SourceLimits with request slots when requests are paced (`connections`: the router's connections per origin). */
export function withSlots(limits: SourceLimits, connections: number): SourceLimits {
  return limits.requests ? { ...limits, slots: new Limiter(connections) } : limits
}

/** Checks a spec, throwing TRANSFER_BAD_LIMIT; returns the parsed rate functions (undefined = that limit is off). */
export function limitRates(spec: LimitSpec): { bytes?: RateFn; requests?: RateFn } {
  if (spec.maxRps !== undefined && !(Number.isFinite(spec.maxRps) && spec.maxRps > 0)) {
    throw new TransferError(TRANSFER_CODES.BAD_LIMIT, `--max-rps wants a number of requests per second above 0, got ${spec.maxRps}`, { status: 400 })
  }
  if (spec.timeZone !== undefined && !isTimeZone(spec.timeZone)) throw new TransferError(TRANSFER_CODES.BAD_LIMIT, `unknown time zone "${spec.timeZone}"`, { status: 400 })
  const schedule = spec.bwlimit === undefined ? undefined : parseBwSchedule(spec.bwlimit)
  const rps = spec.maxRps
  return {
    ...(schedule && !isUnlimited(schedule) ? { bytes: cachedRate((ms) => rateAt(schedule, ms, spec.timeZone)) } : {}),
    ...(rps !== undefined ? { requests: () => rps } : {}),
  }
}

/** Limits shared by every thread of a process: the spec plus the buffer holding both buckets (bytes, requests). */
export type SharedLimits = LimitSpec & { state: SharedArrayBuffer }

/** Validates a spec and allocates its shared buckets; undefined when no limit is set. */
export function createSharedLimits(spec: LimitSpec): SharedLimits | undefined {
  const rates = limitRates(spec)
  if (!rates.bytes && !rates.requests) return undefined
  return { ...spec, state: new SharedArrayBuffer(16) }
}

/** This thread's pacers over shared buckets (each thread builds its own; the buckets are the same). */
export function sharedSourceLimits(shared: SharedLimits, clock: Clock = wallClock): SourceLimits {
  const rates = limitRates(shared)
  return {
    ...(rates.bytes ? { bytes: new SharedPacer(shared.state, 0, rates.bytes, byteBurst, clock) } : {}),
    ...(rates.requests ? { requests: new SharedPacer(shared.state, 1, rates.requests, requestBurst, clock) } : {}),
  }
}

/** Waits out a reservation of `amount` (aborted with the signal). */
export async function pace(pacer: Pacer, amount: number, signal?: AbortSignal): Promise<void> {
  const r = pacer.reserve(amount)
  const ms = typeof r === 'number' ? r : await r
  if (ms >= 1) await sleep(ms, undefined, signal ? { signal } : undefined)
}

/** Waits until one request is allowed, asking again after each wait (aborted with the signal). */
export async function takeRequest(pacer: Pacer, signal?: AbortSignal): Promise<void> {
  for (;;) {
    const r = pacer.tryTake(1)
    const ms = typeof r === 'number' ? r : await r
    if (ms <= 0) return
    await sleep(Math.max(1, ms), undefined, signal ? { signal } : undefined)
  }
}

/** Passes a body through, each chunk once its bytes are reserved. */
class ThrottleStream extends Transform {
  readonly #pacer: Pacer
  #timer: NodeJS.Timeout | undefined

  constructor(pacer: Pacer) {
    super()
    this.#pacer = pacer
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const r = this.#pacer.reserve(chunk.length)
    const go = (ms: number): void => {
      if (ms < 1) { cb(null, chunk); return }
      this.#timer = setTimeout(() => { this.#timer = undefined; cb(null, chunk) }, ms)
    }
    if (typeof r === 'number') go(r)
    else r.then(go, (err: unknown) => cb(err as Error))
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    if (this.#timer) clearTimeout(this.#timer)
    cb(err)
  }
}

/** `body` throttled by `pacer`: errors and destruction travel both ways, as pipeline gives them. */
export function throttle(body: Readable, pacer: Pacer): Readable {
  const out = new ThrottleStream(pacer)
  body.on('error', (err) => out.destroy(err))
  out.on('close', () => { if (!body.readableEnded) body.destroy() })
  body.pipe(out)
  return out
}

type Ops = {
  get(locator: string, options: { signal?: AbortSignal }): Promise<SourceObject>
  head(locator: string, options: { signal?: AbortSignal }): Promise<{ size?: number; etag?: string; modified?: number }>
  getText(locator: string, options: { signal?: AbortSignal; maxBytes: number }): Promise<{ text: string; url: string; contentType?: string }>
}

/** Runs `fn` holding a request slot (when there are slots) and after a request token; `keep` keeps the slot for a body. */
async function request<T>(limits: SourceLimits, signal: AbortSignal | undefined, fn: () => Promise<T>, keep?: (res: T, release: () => void) => void): Promise<T> {
  const slots = limits.slots
  if (slots) await slots.acquire()
  let held = slots !== undefined
  const release = (): void => { if (held) { held = false; slots?.release() } }
  try {
    if (limits.requests) await takeRequest(limits.requests, signal)
    const res = await fn()
    if (keep && held) keep(res, release)
    else release()
    return res
  } catch (err) {
    release()
    throw err
  }
}

/** A GET under limits: a request token first, then the body throttled (a local file then streams: no kernel copy). */
export function limitedGet(src: Ops, locator: string, options: { signal?: AbortSignal }, limits: SourceLimits): Promise<SourceObject> {
  return request(limits, options.signal, async () => {
    const obj = await src.get(locator, options)
    if (!limits.bytes) return obj
    const { path: _path, body, ...rest } = obj
    return { ...rest, body: throttle(body, limits.bytes) }
  }, (obj, release) => { obj.body.once('close', release) })
}

export function limitedHead(src: Ops, locator: string, options: { signal?: AbortSignal }, limits: SourceLimits): Promise<{ size?: number; etag?: string; modified?: number }> {
  return request(limits, options.signal, () => src.head(locator, options))
}

/** A playlist GET under limits: read whole (it is bounded by maxBytes), then its bytes are paced before it is used. */
export async function limitedGetText(src: Ops, locator: string, options: { signal?: AbortSignal; maxBytes: number }, limits: SourceLimits): Promise<{ text: string; url: string; contentType?: string }> {
  const res = await request(limits, options.signal, () => src.getText(locator, options))
  if (limits.bytes) await pace(limits.bytes, Buffer.byteLength(res.text), options.signal)
  return res
}
