// Server-Sent Events framing. Every event is encoded ONCE into a Buffer that is then written to every
// connection watching its topic; these functions are pure so the bytes can be pinned by tests.

/** One SSE event before framing. */
export type SseFields = {
  /** `data:` payload; split on \n, \r\n or \r into one `data:` line each. */
  data: string
  /** `event:` name; omitted when undefined. Must not contain CR or LF. */
  event?: string
  /** `id:` value; omitted when undefined. Must not contain CR, LF or NUL. */
  id?: string | number
  /** `retry:` reconnection delay in ms; omitted when undefined. */
  retry?: number
}

/**
 * Frames one event as the WHATWG spec parses it (the hono `writeSSE` pattern): field lines in a fixed order
 * (event, id, retry, data…) and a terminating blank line. CR/LF in `event` or `id` would let a publisher
 * inject fields, so they are refused rather than escaped.
 */
export function encodeSseText(fields: SseFields): string {
  let out = ''
  if (fields.event !== undefined) {
    if (/[\r\n]/.test(fields.event)) throw new TypeError('SSE event name must not contain CR or LF')
    out += `event: ${fields.event}\n`
  }
  if (fields.id !== undefined) {
    const id = String(fields.id)
    if (/[\r\n\0]/.test(id)) throw new TypeError('SSE id must not contain CR, LF or NUL')
    out += `id: ${id}\n`
  }
  if (fields.retry !== undefined) {
    if (!Number.isInteger(fields.retry) || fields.retry < 0) throw new TypeError('SSE retry must be a non-negative integer')
    out += `retry: ${fields.retry}\n`
  }
  for (const line of fields.data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`
  return out + '\n'
}

export function encodeSseEvent(fields: SseFields): Buffer {
  return Buffer.from(encodeSseText(fields), 'utf8')
}

/** A comment line (heartbeat); CR/LF are folded so a comment can never end the frame early. */
export function encodeSseComment(text = ''): Buffer {
  return Buffer.from(`:${text ? ' ' + text.replace(/[\r\n]+/g, ' ') : ''}\n\n`, 'utf8')
}

/** A bare `retry:` field: sets the client's reconnection delay without dispatching an event. */
export function encodeSseRetry(ms: number): Buffer {
  if (!Number.isInteger(ms) || ms < 0) throw new TypeError('SSE retry must be a non-negative integer')
  return Buffer.from(`retry: ${ms}\n\n`, 'utf8')
}
