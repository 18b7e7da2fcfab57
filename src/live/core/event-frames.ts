// The frames a live server writes, built from sse-frame.ts so every byte follows one encoder.
import { encodeSseEvent } from './sse-frame.ts'
import type { LiveEvent } from '../types.ts'

export function encodeLiveEvent(ev: LiveEvent): Buffer {
  return encodeSseEvent({ event: ev.type, id: ev.id, data: ev.data })
}

/** Field name of an aggregated frame: `like` → `{"likes":37}`. */
export function coalescedKey(type: string): string {
  return type.endsWith('s') ? type : `${type}s`
}

/** How many units one event of a coalesced type stands for: `{"count":5}` counts 5, anything else 1. */
export function countOf(data: string): number {
  if (data.length > 2 && data.charCodeAt(0) === 123 /* { */ && data.includes('"count"')) {
    try {
      const v = (JSON.parse(data) as { count?: unknown }).count
      if (typeof v === 'number' && Number.isFinite(v) && v > 0) return Math.min(v, 1e9)
    } catch { /* malformed: counts as one */ }
  }
  return 1
}

export function encodeCoalesced(type: string, count: number, id: number): Buffer {
  return encodeSseEvent({ event: type, id, data: JSON.stringify({ [coalescedKey(type)]: count }) })
}

/** The gap is older than history: the client drops its state and continues from `latestId`. */
export function encodeReset(latestId: number, reason: string): Buffer {
  return encodeSseEvent({ event: 'reset', id: latestId, data: JSON.stringify({ reason, latestId }) })
}

/** Sent before a node closes a stream on purpose: the client reconnects after `retryMs` (EventSource does it alone). */
export function encodeGoodbye(reason: string, retryMs: number): Buffer {
  return encodeSseEvent({ event: 'reconnect', retry: retryMs, data: JSON.stringify({ reason, retryMs }) })
}

/**
 * Replayed events in id order; coalesced types are summed into one frame per type carrying the last replayed
 * id, so a client catching up on 10,000 likes receives one `{"likes":10000}` and not 10,000 frames.
 */
export function encodeReplay(events: readonly LiveEvent[], coalesce: ReadonlyMap<string, number>): Buffer[] {
  const out: Buffer[] = []
  const sums = new Map<string, number>()
  let lastId = 0
  for (const ev of events) {
    lastId = ev.id
    if (coalesce.has(ev.type)) sums.set(ev.type, (sums.get(ev.type) ?? 0) + countOf(ev.data))
    else out.push(encodeLiveEvent(ev))
  }
  for (const [type, n] of sums) out.push(encodeCoalesced(type, n, lastId))
  return out
}
