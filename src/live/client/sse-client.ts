// A small spec-following SSE client for the CLI, the demo and tests (EventSource semantics, Node fetch).
// undici's fetch, not the one bundled in Node: a server that closes while a body is held must not crash the client.
import { fetch } from 'undici'
import { delay } from '../../shared/backoff.ts'
import { LIVE_DEFAULTS } from '../defaults.ts'
import { LiveError } from '../errors.ts'

export type SseMessage = { event: string; data: string; id: string | undefined }

/** Incremental parser following the WHATWG event-stream interpretation rules. */
export class SseParser {
  #buf = ''
  #data: string[] = []
  #event = ''
  #id: string | undefined
  /** Last `id:` seen (survives events, like EventSource's lastEventId). */
  lastEventId: string | undefined
  /** Last `retry:` seen, in ms. */
  retry: number | undefined

  push(chunk: string): SseMessage[] {
    this.#buf += chunk
    const out: SseMessage[] = []
    let m: RegExpExecArray | null
    const re = /\r\n|\r(?!$)|\n/g
    let start = 0
    while ((m = re.exec(this.#buf)) !== null) {
      this.#line(this.#buf.slice(start, m.index), out)
      start = m.index + m[0].length
    }
    this.#buf = this.#buf.slice(start)
    return out
  }

  #line(line: string, out: SseMessage[]): void {
    if (line === '') {
      if (this.#id !== undefined) this.lastEventId = this.#id
      if (this.#data.length > 0) out.push({ event: this.#event || 'message', data: this.#data.join('\n'), id: this.lastEventId })
      this.#data = []
      this.#event = ''
      this.#id = undefined
      return
    }
    if (line.startsWith(':')) return
    const i = line.indexOf(':')
    const field = i === -1 ? line : line.slice(0, i)
    let value = i === -1 ? '' : line.slice(i + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'data') this.#data.push(value)
    else if (field === 'event') this.#event = value
    else if (field === 'id' && !value.includes('\0')) this.#id = value
    else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value)
  }
}

/** Options of a subscription. */
export type SubscribeOptions = {
  /** Base URL of any live node. */
  url: string
  topic: string
  /** Resume after this id. @defaultValue undefined (live only) */
  lastEventId?: string
  /** Reconnect (with Last-Event-ID) when the stream ends, like EventSource. @defaultValue true */
  reconnect?: boolean
  /** Extra URLs tried in turn on reconnect (other nodes). @defaultValue [] */
  fallbackUrls?: string[]
  signal?: AbortSignal
  onEvent: (msg: SseMessage) => void
  /** Called each time a stream is open. @defaultValue undefined */
  onOpen?: (url: string) => void
}

/** Streams a topic until `signal` aborts (or the stream ends when reconnect is off). */
export async function subscribeLive(options: SubscribeOptions): Promise<void> {
  const urls = [options.url, ...(options.fallbackUrls ?? [])].map((u) => u.replace(/\/+$/, ''))
  let parser = new SseParser()
  parser.lastEventId = options.lastEventId
  let attempt = 0
  for (;;) {
    if (options.signal?.aborted) return
    const base = urls[attempt % urls.length] as string
    // A stream cut mid-event must not leak its half-read fields into the next one (as EventSource does).
    const next = new SseParser()
    next.lastEventId = parser.lastEventId
    next.retry = parser.retry
    parser = next
    try {
      const headers: Record<string, string> = { accept: 'text/event-stream' }
      if (parser.lastEventId !== undefined) headers['last-event-id'] = parser.lastEventId
      const res = await fetch(`${base}/v1/topics/${encodeURIComponent(options.topic)}/events`, { headers, signal: options.signal })
      if (res.status !== 200 || !res.body) {
        const text = await res.text()
        throw new LiveError(res.status === 401 ? 'LIVE_UNAUTHORIZED' : 'LIVE_TRANSPORT', `subscribe answered ${res.status}: ${text.slice(0, 200)}`)
      }
      options.onOpen?.(base)
      const decoder = new TextDecoder()
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        for (const msg of parser.push(decoder.decode(chunk, { stream: true }))) options.onEvent(msg)
      }
    } catch (err) {
      if (options.signal?.aborted) return
      if (options.reconnect === false) throw err
    }
    if (options.reconnect === false) return
    attempt++
    try { await delay(parser.retry ?? LIVE_DEFAULTS.client.reconnectMs, options.signal) } catch { return }
  }
}

/** Options of a publish call. */
export type PublishOptions = {
  url: string
  topic: string
  /** Bearer token (shared secret or a JWT). */
  token: string
  /** One `{type, data}` or several. */
  events: { type: string; data: unknown }[]
  signal?: AbortSignal
}

export async function publishLive(options: PublishOptions): Promise<{ accepted: number; ids: number[] }> {
  const res = await fetch(`${options.url.replace(/\/+$/, '')}/v1/topics/${encodeURIComponent(options.topic)}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${options.token}` },
    body: JSON.stringify(options.events.length === 1 ? options.events[0] : { events: options.events }),
    signal: options.signal,
  })
  const body = await res.json() as { accepted: number; ids: number[]; error?: { code: string; message: string } }
  if (!res.ok) throw new LiveError(body.error?.code === 'LIVE_UNAUTHORIZED' ? 'LIVE_UNAUTHORIZED' : 'LIVE_TRANSPORT', `publish answered ${res.status}: ${body.error?.code ?? ''} ${body.error?.message ?? ''}`)
  return body
}
