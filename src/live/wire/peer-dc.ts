// What one DC sends another (transports/peer-forwarder.ts → the peer's publish API). Peer DCs may run different
// versions, so this is a compatibility contract.
//
//   POST <peer>/v1/topics/<topic>/events
//   authorization: Bearer <peer token>
//   x-colony-dc: <name of the sending DC>        (marks the events as forwarded: the peer never forwards them on)
//   content-type: application/json
//
//   {"events":[{"type":"comment","data":{…},"ts":1764000000000,"origin":"eu:Xy12ab:42"}, …]}
//
// | field  | meaning                                                                                   |
// |--------|-------------------------------------------------------------------------------------------|
// | type   | the event type                                                                            |
// | data   | the event's JSON value, as published                                                      |
// | ts     | publish time at the home DC (ms since epoch)                                              |
// | origin | `<dc>:<node nonce>:<seq>`, unique per event; the peer drops an origin it has already seen |
//
// The peer answers 202 as to any publish; it stamps its own ids. Each `e` is built here once, so the size of
// any batch is known exactly before it is sent.
import { LiveError } from '../errors.ts'

/** The request header that names the sending DC. */
export const DC_HEADER = 'x-colony-dc'

/** The origin id of the `seq`th event first published on a node of DC `dc` (`nonce`: random per node start). */
export function originId(dc: string, nonce: string, seq: number): string {
  return `${dc}:${nonce}:${seq}`
}

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
