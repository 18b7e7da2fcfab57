// `colony demo` hook: an embedded node on a free loopback port, a few viewers, likes and comments, figures.
// As in production, the publish secret stays with the "backend": each viewer gets a viewer token from
// POST /v1/tokens (its topic, like + comment, ten minutes) and likes and comments with that.
import { randomBytes } from 'node:crypto'
// Written against the public API (colony/live), as an application would be.
import { LiveError, publishLive, startLiveServer, subscribeLive } from '../live/index.ts'

/** Options of the live demo. */
export type LiveDemoOptions = {
  /** Where progress lines go. @defaultValue console.log */
  log?: (line: string) => void
  /** Viewers to connect. @defaultValue 5 */
  viewers?: number
  /** Likes to publish (coalesced into a few frames). @defaultValue 200 */
  likes?: number
}

/** What a backend does for each viewer: trade the publish secret for a scoped, short-lived viewer token. */
async function issueViewerToken(url: string, secret: string, topic: string): Promise<string> {
  const res = await fetch(`${url}/v1/tokens`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
    body: JSON.stringify({ topics: [topic], types: ['like', 'comment'], ttl: '10m' }),
  })
  const body = await res.json() as { token?: string; error?: { code: string } }
  if (res.status !== 201 || !body.token) throw new LiveError('LIVE_UNAUTHORIZED', `POST /v1/tokens answered ${res.status} ${body.error?.code ?? ''}`)
  return body.token
}

export async function runLiveDemo(options: LiveDemoOptions = {}): Promise<{ ok: boolean }> {
  const log = options.log ?? ((line: string) => console.log(line))
  const viewers = options.viewers ?? 5
  const likes = options.likes ?? 200
  const token = randomBytes(16).toString('hex')
  const server = await startLiveServer({ token, hub: { coalesce: new Map([['like', 100]]) } })
  const abort = new AbortController()
  const topic = 'demo-stream'
  log(`live: embedded node at ${server.url}, topic ${topic}`)
  const seen = Array.from({ length: viewers }, () => ({ likes: 0, comments: [] as string[], frames: 0, latencies: [] as number[] }))
  const opened: Promise<void>[] = []
  const streams = seen.map((s, i) => {
    let open: () => void = () => undefined
    opened.push(new Promise<void>((r) => { open = r }))
    return subscribeLive({
      url: server.url, topic, signal: abort.signal, onOpen: () => open(),
      onEvent: (msg) => {
        s.frames++
        const data = JSON.parse(msg.data) as { likes?: number; text?: string; sentAt?: number }
        if (msg.event === 'like') s.likes += data.likes ?? 0
        if (msg.event === 'comment') {
          s.comments.push(String(data.text))
          if (typeof data.sentAt === 'number') s.latencies.push(Date.now() - data.sentAt)
        }
        void i
      },
    })
  })
  try {
    await Promise.all(opened)
    log(`live: ${viewers} viewers connected`)
    const viewerTokens = await Promise.all(seen.map(() => issueViewerToken(server.url, token, topic)))
    const tokenOf = (i: number): string => viewerTokens[i % viewerTokens.length] ?? ''
    const refused = await publishLive({ url: server.url, topic: 'another-stream', token: tokenOf(0), events: [{ type: 'like', data: {} }] }).then(() => 'accepted', (err: unknown) => (err as Error).message)
    log(`live: ${viewers} viewer tokens issued by POST /v1/tokens (topic ${topic}, like + comment, 10 min); one used on another topic: ${refused}`)
    const t0 = Date.now()
    await publishLive({ url: server.url, topic, token: tokenOf(0), events: [{ type: 'comment', data: { user: 'viewer-0', text: 'first!', sentAt: Date.now() } }] })
    // Each viewer likes once with its own token; the rest arrive in batches from the backend, which holds the secret.
    const fromViewers = Math.min(viewers, likes)
    await Promise.all(Array.from({ length: fromViewers }, (_, i) => publishLive({ url: server.url, topic, token: tokenOf(i), events: [{ type: 'like', data: {} }] })))
    for (let sent = fromViewers; sent < likes; sent += 50) {
      await publishLive({ url: server.url, topic, token, events: Array.from({ length: Math.min(50, likes - sent) }, () => ({ type: 'like', data: {} })) })
    }
    await publishLive({ url: server.url, topic, token: tokenOf(1), events: [{ type: 'comment', data: { user: 'viewer-1', text: 'what a goal', sentAt: Date.now() } }] })
    const deadline = Date.now() + 5_000
    const done = (): boolean => seen.every((s) => s.likes === likes && s.comments.length === 2)
    while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    const ok = done() && seen.every((s) => s.comments[0] === 'first!' && s.comments[1] === 'what a goal') && refused.includes('LIVE_FORBIDDEN_TOPIC')
    const frames = seen.reduce((a, s) => a + s.frames, 0)
    const lat = seen.flatMap((s) => s.latencies).sort((a, b) => a - b)
    log(`live: published ${likes} likes + 2 comments; each viewer received ${seen[0]?.likes ?? 0} likes in ${seen[0] ? seen[0].frames - 2 : 0} coalesced frame(s) and both comments in order`)
    log(`live: ${frames} frames delivered to ${viewers} viewers in ${Date.now() - t0} ms; comment publish→receive max ${lat.at(-1) ?? '?'} ms; server counted ${server.hub.stats.deliveries} deliveries`)
    log(`live: ${ok ? 'OK' : 'FAILED: not every viewer saw every like and comment, or a viewer token reached beyond its topic'}`)
    return { ok }
  } finally {
    abort.abort()
    await Promise.allSettled(streams)
    await server.close({ graceMs: 200 })
  }
}
