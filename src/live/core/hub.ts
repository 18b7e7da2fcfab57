// The frontend role: topic → connections, one encoded Buffer per batch written to every viewer.
import { LIVE_DEFAULTS, withDefaults } from '../defaults.ts'
import { encodeCoalesced, encodeGoodbye, encodeLiveEvent, encodeReplay, encodeReset, countOf } from './event-frames.ts'
import { encodeSseComment, encodeSseRetry } from './sse-frame.ts'
import { FlushScheduler } from './flush-scheduler.ts'
import { TopicHistory } from './topic-history.ts'
import type { LiveEvent, LiveTransport } from '../types.ts'
import type { ViewerSocket } from './viewer-socket.ts'
import type { Conn, HubOptions, HubStats, TopicState } from './hub-state.ts'
import { performance } from 'node:perf_hooks'

const HEARTBEAT = encodeSseComment()

export class Hub {
  readonly #transport: LiveTransport
  readonly #topics = new Map<string, TopicState>()
  readonly #scheduler: FlushScheduler<TopicState>
  #ingestTurn = 0
  readonly #closing = new Map<ViewerSocket, number>()
  readonly #o: Required<HubOptions>
  readonly #retryFrame: Buffer
  readonly #sweepTimer: NodeJS.Timeout
  #countsDirty = true
  #countsTimer: NodeJS.Timeout | undefined
  #draining = false
  readonly stats: HubStats = { connections: 0, received: 0, topics: 0, deliveries: 0, frames: 0, writes: 0, slowResyncs: 0, slowDisconnects: 0, resets: 0, gaps: 0 }

  constructor(transport: LiveTransport, options: HubOptions = {}) {
    this.#transport = transport
    const { coalesce, drainSpreadMs: _spread, ...defaults } = LIVE_DEFAULTS.hub
    this.#o = withDefaults<Required<HubOptions>>({ ...defaults, coalesce: new Map(coalesce) }, options)
    this.#retryFrame = encodeSseRetry(this.#o.retryMs)
    this.#scheduler = new FlushScheduler<TopicState>(this.#o.batchWindowMs, (t, now) => this.#flush(t, now))
    const sweepMs = Math.max(200, Math.min(1000, Math.floor(this.#o.heartbeatMs / 3)))
    this.#sweepTimer = setInterval(() => this.#sweep(), sweepMs)
    this.#sweepTimer.unref()
  }

  get coalesce(): ReadonlyMap<string, number> { return this.#o.coalesce }

  viewers(topic: string): number { return this.#topics.get(topic)?.conns.size ?? 0 }

  #topic(name: string): TopicState {
    let t = this.#topics.get(name)
    if (!t) {
      t = { name, conns: new Set(), history: new TopicHistory(this.#o.historySize, this.#o.historyBytes), queue: [], queueIds: [], frames: 0, due: 0, gap: 0, lastArrival: 0, turn: 0, acc: undefined, watched: undefined, emptySince: 0, attaching: 0, held: undefined }
      this.#topics.set(name, t)
      this.stats.topics = this.#topics.size
    }
    return t
  }

  /**
   * Adopts an SSE socket whose request was validated: waits until routing includes this node, replays what
   * the client missed (local history, else the shared history), then writes `head` + replay in one write.
   * Resolves false when the socket went away meanwhile.
   */
  async attach(socket: ViewerSocket, topicName: string, head: string, lastEventId: number | undefined, onClose?: () => void): Promise<boolean> {
    const t = this.#topic(topicName)
    t.emptySince = 0
    t.watched ??= this.#transport.watch(topicName).catch((err: unknown) => { t.watched = undefined; throw err })
    let gone = false
    const markGone = (): void => { gone = true }
    socket.once('close', markGone)
    t.attaching++
    try {
      await t.watched
      let frames: Buffer[] = []
      let lastId = t.history.lastId
      if (lastEventId !== undefined) {
        const r = await this.#replay(t, lastEventId)
        frames = r.frames
        lastId = r.lastId
      }
      if (gone || socket.destroyed || this.#draining) { if (!gone) socket.destroy(); return false }
      // Anything queued but not yet flushed for this topic will be flushed to this connection too.
      socket.write(Buffer.concat([Buffer.from(head, 'latin1'), this.#retryFrame, ...frames]))
      const conn: Conn = { socket, topic: t, lastId, lastWrite: Date.now(), lagSince: 0, skipTo: lastId, onClose }
      t.conns.add(conn)
      this.stats.connections++
      this.#countsChanged()
      socket.setNoDelay(true)
      socket.on('error', noop)
      socket.once('close', () => this.#remove(conn))
      return true
    } finally {
      socket.off('close', markGone)
      t.attaching--
      if (t.conns.size === 0 && t.emptySince === 0) t.emptySince = Date.now()
    }
  }

  async #replay(t: TopicState, after: number): Promise<{ frames: Buffer[]; lastId: number }> {
    if (t.history.covers(after)) return this.#framesFor(t.history.since(after), after)
    const shared = await this.#transport.replay(t.name, after)
    if (shared.kind === 'reset') {
      // The shared history cannot reach back: tell the client, then continue from what arrived locally.
      this.stats.resets++
      const latest = Math.max(shared.latestId, t.history.lastId)
      return { frames: [encodeReset(latest, 'history-gap')], lastId: latest }
    }
    const events = shared.events
    const last = events.at(-1)?.id ?? after
    // Events that reached this node after the shared read are in the local ring (routing was on first).
    const local = t.history.since(last)
    const merged = local.kind === 'events' ? [...events, ...local.events] : events
    return this.#framesFor({ kind: 'events', events: merged }, after)
  }

  #framesFor(r: ReturnType<TopicHistory['since']>, after: number): { frames: Buffer[]; lastId: number } {
    if (r.kind === 'reset') { this.stats.resets++; return { frames: [encodeReset(r.latestId, 'history-gap')], lastId: r.latestId } }
    return { frames: encodeReplay(r.events, this.#o.coalesce), lastId: r.events.at(-1)?.id ?? after }
  }

  /** Events from the transport for topics this node watches, in id order per topic. */
  ingest(events: readonly LiveEvent[]): void {
    this.#ingestTurn++
    for (const ev of events) {
      const t = this.#topics.get(ev.topic)
      if (!t) continue
      if (t.held) { t.held.push(ev); continue }
      const prev = t.history.lastId
      if (ev.id <= prev) continue
      if (prev !== 0 && ev.id !== prev + 1) { this.#fillGap(t, prev, ev); continue }
      this.#accept(t, ev)
    }
  }

  /**
   * Ids skipped (this node briefly missing from routing, a dropped pub/sub message): fetch the missing events
   * from the shared history before anything newer, so viewers still get every event once and in order.
   */
  #fillGap(t: TopicState, prev: number, ev: LiveEvent): void {
    this.stats.gaps++
    t.held = [ev]
    const release = (missing: readonly LiveEvent[]): void => {
      const held = t.held ?? []
      t.held = undefined
      const seen = new Set<number>()
      const all = [...missing, ...held].filter((e) => !seen.has(e.id) && seen.add(e.id)).sort((a, b) => a.id - b.id)
      // What the history cannot supply stays a gap: the ring restarts and later resumes answer with a reset.
      for (const e of all) if (e.id > t.history.lastId) this.#accept(t, e)
    }
    this.#transport.replay(t.name, prev).then((r) => release(r.kind === 'events' ? r.events : []), () => release([]))
  }

  #accept(t: TopicState, ev: LiveEvent): void {
    this.stats.received++
    t.history.push(ev)
    const win = this.#o.coalesce.get(ev.type)
    if (win !== undefined) {
      t.acc ??= new Map()
      const a = t.acc.get(ev.type)
      if (a) a.count += countOf(ev.data)
      else {
        t.acc.set(ev.type, { count: countOf(ev.data) })
        setTimeout(() => this.#flushAccumulator(t, ev.type), win).unref()
      }
      return
    }
    if (t.conns.size === 0) return
    const now = performance.now()
    if (t.turn !== this.#ingestTurn) {
      // Events that arrive together already share a write: the gap is measured between arrivals.
      t.turn = this.#ingestTurn
      if (t.lastArrival > 0) {
        const g = Math.min(now - t.lastArrival, 10_000)
        t.gap = t.gap === 0 ? g : t.gap * 0.75 + g * 0.25
      }
      t.lastArrival = now
    }
    t.queue.push(encodeLiveEvent(ev))
    t.queueIds.push(ev.id)
    t.frames++
    this.#scheduler.schedule(t, now, true)
  }

  #flushAccumulator(t: TopicState, type: string): void {
    const a = t.acc?.get(type)
    if (!a) return
    t.acc?.delete(type)
    if (t.conns.size === 0) return
    t.queue.push(encodeCoalesced(type, a.count, t.history.lastId))
    t.queueIds.push(t.history.lastId)
    t.frames++
    // The aggregate already waited its own window: no further hold.
    this.#scheduler.schedule(t, performance.now(), false)
  }

  /** One chunk for the topic's queued frames, one write per viewer. */
  #flush(t: TopicState, now: number): void {
    t.due = 0
    if (t.queue.length === 0) return
    const max = this.#o.maxBufferBytes
    const queue = t.queue
    const ids = t.queueIds
    const chunk = queue.length === 1 ? queue[0] as Buffer : Buffer.concat(queue)
    const frames = t.frames
    const lastId = t.history.lastId
    const firstQueued = ids[0] ?? 0
    const lastQueued = ids.at(-1) ?? 0
    t.queue = []
    t.queueIds = []
    t.frames = 0
    let n = 0
    for (const c of t.conns) {
      if (c.lagSince !== 0) continue
      let out = chunk
      if (c.skipTo !== 0) {
        if (c.skipTo >= lastQueued) continue
        // Rare (a connection that just joined): only the frames it does not have yet.
        if (c.skipTo >= firstQueued) out = Buffer.concat(queue.filter((_, i) => (ids[i] ?? 0) > c.skipTo))
        c.skipTo = 0
      }
      const s = c.socket
      if (s.writableLength > max) { this.#slow(c, now); continue }
      s.write(out)
      c.lastId = lastId
      c.lastWrite = now
      n++
    }
    this.stats.writes += n
    this.stats.deliveries += n * frames
    this.stats.frames += frames
  }

  #slow(c: Conn, now: number): void {
    if (this.#o.slowConsumer === 'disconnect') {
      this.stats.slowDisconnects++
      this.#closeConn(c, encodeGoodbye('slow-consumer', this.#o.retryMs), now)
      return
    }
    this.stats.slowResyncs++
    c.lagSince = now
    c.socket.once('drain', () => this.#resync(c))
  }

  /** A lagging connection drained: send what it missed from history (coalesced), or a reset. */
  #resync(c: Conn): void {
    if (c.lagSince === 0 || c.socket.destroyed) return
    // The local ring usually covers the gap; when it does not, the shared history (Redis, primary) may.
    // Until the catch-up is written the connection stays marked lagging, so live frames cannot overtake it.
    const write = (frames: Buffer[], lastId: number): void => {
      if (c.socket.destroyed) return
      if (frames.length > 0) c.socket.write(frames.length === 1 ? frames[0] as Buffer : Buffer.concat(frames))
      c.lastId = lastId
      c.lastWrite = Date.now()
      c.lagSince = 0
      // History is ahead of the topic's queue (events are recorded at once, flushed on the next tick): the catch-up
      // may already hold queued frames, which the next flush must not write again.
      c.skipTo = lastId
    }
    if (c.topic.history.covers(c.lastId)) {
      const { frames, lastId } = this.#framesFor(c.topic.history.since(c.lastId), c.lastId)
      write(frames, lastId)
      return
    }
    this.#replay(c.topic, c.lastId).then((r) => write(r.frames, r.lastId), () => {
      const { frames, lastId } = this.#framesFor({ kind: 'reset', latestId: c.topic.history.lastId }, c.lastId)
      write(frames, lastId)
    })
  }

  #closeConn(c: Conn, goodbye: Buffer, now: number): void {
    c.socket.end(goodbye)
    this.#closing.set(c.socket, now + 5_000)
    this.#remove(c)
  }

  #remove(c: Conn): void {
    const t = c.topic
    if (!t.conns.delete(c)) return
    this.stats.connections--
    this.#countsChanged()
    if (t.conns.size === 0) t.emptySince = Date.now()
    c.onClose?.()
  }

  /** One shared timer for heartbeats, stuck slow consumers, half-closed sockets, idle topics and viewer counts. */
  #sweep(): void {
    const now = Date.now()
    const idleBefore = now - this.#o.heartbeatMs
    const stuckBefore = now - this.#o.slowTimeoutMs
    for (const t of this.#topics.values()) {
      for (const c of t.conns) {
        if (c.lagSince !== 0) {
          if (c.lagSince < stuckBefore) { this.stats.slowDisconnects++; c.socket.destroy(); this.#remove(c) }
        } else if (c.lastWrite < idleBefore) {
          c.socket.write(HEARTBEAT)
          c.lastWrite = now
        }
      }
      if (t.conns.size === 0 && t.attaching === 0 && t.emptySince !== 0 && now - t.emptySince > this.#o.idleTopicMs && !t.acc?.size) {
        this.#topics.delete(t.name)
        this.#scheduler.forget(t)
        if (t.watched) this.#transport.unwatch(t.name)
        this.#countsDirty = true
      }
    }
    this.stats.topics = this.#topics.size
    for (const [s, until] of this.#closing) {
      if (s.destroyed) this.#closing.delete(s)
      else if (until < now) { s.destroy(); this.#closing.delete(s) }
    }
    if (this.#countsDirty) this.reportCounts()
  }

  /** Viewer counts travel at most every 200 ms however fast viewers come and go. */
  #countsChanged(): void {
    this.#countsDirty = true
    if (this.#countsTimer || this.#draining) return
    this.#countsTimer = setTimeout(() => { this.#countsTimer = undefined; this.reportCounts() }, 200)
    this.#countsTimer.unref()
  }

  reportCounts(): void {
    this.#countsDirty = false
    const counts = new Map<string, number>()
    for (const t of this.#topics.values()) counts.set(t.name, t.conns.size)
    this.#transport.reportViewers(counts)
  }

  /**
   * Graceful shutdown: every viewer gets a `reconnect` event with a jittered `retry:` (spreading the reconnect
   * storm over `spreadMs`), then the stream ends; sockets still open after `graceMs` are destroyed.
   */
  async drain(options: { spreadMs?: number; graceMs?: number } = {}): Promise<void> {
    this.#draining = true
    this.#scheduler.flushAll()
    const spread = options.spreadMs ?? LIVE_DEFAULTS.hub.drainSpreadMs
    const sockets: ViewerSocket[] = []
    for (const t of this.#topics.values()) {
      for (const c of [...t.conns]) {
        const retry = Math.floor(250 + Math.random() * spread)
        sockets.push(c.socket)
        c.socket.end(encodeGoodbye('shutdown', retry))
        this.#remove(c)
      }
    }
    const grace = options.graceMs ?? LIVE_DEFAULTS.server.closeGraceMs
    const deadline = Date.now() + grace
    while (Date.now() < deadline && sockets.some((s) => !s.destroyed)) await new Promise((r) => setTimeout(r, 25))
    for (const s of sockets) s.destroy()
    for (const s of this.#closing.keys()) s.destroy()
    this.#closing.clear()
  }

  close(): void {
    clearInterval(this.#sweepTimer)
    if (this.#countsTimer) clearTimeout(this.#countsTimer)
    this.#scheduler.close()
    for (const t of this.#topics.values()) for (const c of t.conns) c.socket.destroy()
  }
}

function noop(): void { /* socket errors surface as 'close', which is handled */ }
