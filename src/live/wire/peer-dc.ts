// The bytes an event takes on its way to a peer DC: one forwarded POST body is `{"events":[e1,e2,…]}`,
// each `e` built here once, so the size of any batch is known exactly before it is sent.
import { LiveError } from '../errors.ts'

/** What a forwarded event carries (the peer stamps its own id). */
export type ForwardedEvent = { type: string; data: string; ts: number; origin: string }

const ENVELOPE_BYTES = Buffer.byteLength('{"events":[]}')

/** One event as it appears in a forwarded body; `data` is already one line of canonical JSON. */
export function forwardedEventJson(ev: ForwardedEvent): string {
  return `{"type":${JSON.stringify(ev.type)},"data":${ev.data},"ts":${ev.ts},"origin":${JSON.stringify(ev.origin)}}`
}

/** The body of a forwarded POST carrying these events (in order). */
export function forwardedBody(events: readonly string[]): string {
  return `{"events":[${events.join(',')}]}`
}

/** Exact size of `forwardedBody` for events of these sizes: the envelope, the events and a comma between each two. */
export function forwardedBodyBytes(count: number, eventBytes: number): number {
  return ENVELOPE_BYTES + eventBytes + Math.max(0, count - 1)
}

/**
 * Refuses (413 LIVE_EVENT_TOO_LARGE) a publish holding an event that could not travel to a peer DC alone within
 * `maxBodyBytes`: peers share the body limit, and the forwarded form is larger than what the publisher sent
 * (it adds `ts` and `origin`), so without this check an event near the limit is accepted here and refused there.
 */
export function assertForwardable(events: readonly ForwardedEvent[], maxBodyBytes: number): void {
  for (let i = 0; i < events.length; i++) {
    const bytes = forwardedBodyBytes(1, Buffer.byteLength(forwardedEventJson(events[i] as ForwardedEvent)))
    if (bytes > maxBodyBytes) {
      throw new LiveError('LIVE_EVENT_TOO_LARGE', `event ${i} takes ${bytes} bytes once forwarded to a peer DC; the limit is ${maxBodyBytes}`, { details: { index: i, bytes, limit: maxBodyBytes } })
    }
  }
}
