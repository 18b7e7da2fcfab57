// `colony demo` hook: an embedded node on a free loopback port, a few viewers, likes and comments, figures.
import { randomBytes } from 'node:crypto'
import { startLiveServer } from './live-server.ts'
import { publishLive, subscribeLive } from './sse-client.ts'

/** Options of the live demo. */
export type LiveDemoOptions = {
  /** Where progress lines go. @defaultValue console.log */
  log?: (line: string) => void
  /** Viewers to connect. @defaultValue 5 */
  viewers?: number
  /** Likes to publish (coalesced into a few frames). @defaultValue 200 */
  likes?: number
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
    const t0 = Date.now()
    await publishLive({ url: server.url, topic, token, events: [{ type: 'comment', data: { user: 'demo', text: 'first!', sentAt: Date.now() } }] })
    for (let sent = 0; sent < likes; sent += 50) {
      await publishLive({ url: server.url, topic, token, events: Array.from({ length: Math.min(50, likes - sent) }, () => ({ type: 'like', data: {} })) })
    }
    await publishLive({ url: server.url, topic, token, events: [{ type: 'comment', data: { user: 'demo', text: 'what a goal', sentAt: Date.now() } }] })
    const deadline = Date.now() + 5_000
    const done = (): boolean => seen.every((s) => s.likes === likes && s.comments.length === 2)
    while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    const ok = done() && seen.every((s) => s.comments[0] === 'first!' && s.comments[1] === 'what a goal')
    const frames = seen.reduce((a, s) => a + s.frames, 0)
    const lat = seen.flatMap((s) => s.latencies).sort((a, b) => a - b)
    log(`live: published ${likes} likes + 2 comments; each viewer received ${seen[0]?.likes ?? 0} likes in ${seen[0] ? seen[0].frames - 2 : 0} coalesced frame(s) and both comments in order`)
    log(`live: ${frames} frames delivered to ${viewers} viewers in ${Date.now() - t0} ms; comment publish→receive max ${lat.at(-1) ?? '?'} ms; server counted ${server.hub.stats.deliveries} deliveries`)
    log(`live: ${ok ? 'OK' : 'FAILED: not every viewer saw every like and comment'}`)
    return { ok }
  } finally {
    abort.abort()
    await Promise.allSettled(streams)
    await server.close({ graceMs: 200 })
  }
}
