// The two servers a run compares, seen only through their HTTP contracts: where a viewer subscribes and how
// an event is published. colony: the issue's /v1 API; nchan: an nginx location pair (see servers.ts).

export type TargetKind = 'colony' | 'nchan'

export type BenchTarget = {
  kind: TargetKind
  /** Base URL, e.g. http://127.0.0.1:8080 (loopback only). */
  url: string
  /** Bearer token for publishing (colony). @defaultValue undefined */
  token?: string
}

/** One event as the publisher sends it. */
export type BenchEvent = { topic: string; type: string; data: Record<string, unknown> }

export function subscribePath(target: BenchTarget, topic: string): string {
  const t = encodeURIComponent(topic)
  return target.kind === 'nchan' ? `/sub/${t}` : `/v1/topics/${t}/events`
}

export type PublishRequest = { path: string; headers: Record<string, string>; body: string }

/**
 * The requests that publish `events` (all on one topic). colony takes a batch in one POST when `batch`;
 * nchan publishes one message per POST, the message being the same JSON the colony request carries so the
 * frames on the wire are about the same size.
 */
export function publishRequests(target: BenchTarget, topic: string, events: BenchEvent[], batch: boolean): PublishRequest[] {
  const t = encodeURIComponent(topic)
  if (target.kind === 'nchan') {
    return events.map((e) => ({ path: `/pub/${t}`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: e.type, data: e.data }) }))
  }
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (target.token) headers.authorization = `Bearer ${target.token}`
  const path = `/v1/topics/${t}/events`
  if (batch && events.length > 1) return [{ path, headers, body: JSON.stringify({ events: events.map((e) => ({ type: e.type, data: e.data })) }) }]
  return events.map((e) => ({ path, headers, body: JSON.stringify({ type: e.type, data: e.data }) }))
}

/** Refuses anything but a loopback http URL: the generator opens 100k sockets and must never aim them outward. */
export function assertLoopback(url: string): URL {
  const u = new URL(url)
  if (u.protocol !== 'http:') throw new TypeError(`bench target must be http:, got ${u.protocol}`)
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(u.hostname) && u.hostname !== 'localhost') {
    throw new TypeError(`bench target must be a loopback address (127.x.y.z), got ${u.hostname}`)
  }
  return u
}
