// The in-process engine: webtorrent over TCP only, with colony's peer guard and stall watchdog.
import { EventEmitter } from 'node:events'
import type { EngineAddOptions, EngineOptions, EngineTorrent, EngineTorrentEvents, EngineTorrentStatus, SwarmEngine } from './engine.ts'
import { loadWebTorrent, type Torrent, type WebTorrentClient } from './engine-types.ts'
import { SwarmError } from './errors.ts'
import { guardTorrent, type PeerGuard } from './peer-guard.ts'

class WebTorrentHandle extends EventEmitter<EngineTorrentEvents> implements EngineTorrent {
  readonly infoHash: string
  resumed = 0
  readonly #t: Torrent
  #guard: PeerGuard
  #stallTimer: ReturnType<typeof setInterval> | undefined
  #last = { done: 0, received: 0, uploaded: 0 }

  constructor(t: Torrent, infoHash: string, options: EngineOptions, complete: boolean) {
    super()
    this.setMaxListeners(0)
    this.#t = t
    this.infoHash = infoHash
    this.#guard = guardTorrent(t, { onBan: (p) => this.emit('ban', p) })
    t.on('verified', () => this.emit('progress'))
    t.on('warning', (err: Error) => options.log.debug({ infoHash, err: err.message }, 'torrent warning'))
    t.on('done', () => this.emit('done'))
    t.on('error', (err: Error) => this.emit('error', new SwarmError('SWARM_ENGINE_FAILED', `engine: ${err.message}`, { cause: err })))
    if (!complete) this.#watchStalls(options)
  }

  get pieceLength(): number { return this.#t.pieceLength }
  get length(): number { return this.#t.length }
  get bannedCount(): number { return this.#guard.bannedCount }

  status(): EngineTorrentStatus {
    const t = this.#t
    if (t.destroyed) return { done: this.#last.done, received: this.#last.received, uploaded: this.#last.uploaded, downRate: 0, upRate: 0, peers: 0, complete: false }
    return {
      done: t.bitfield ? t.downloaded : 0, received: t.received, uploaded: t.uploaded,
      downRate: t.downloadSpeed, upRate: t.uploadSpeed, peers: t.numPeers, complete: t.done,
    }
  }

  hasPiece(index: number): boolean {
    const t = this.#t
    return !t.destroyed && !!t.bitfield && t.bitfield.get(index)
  }

  prioritize(first: number, last: number): void {
    if (!this.#t.ready || this.#t.destroyed) return
    try { this.#t.select(first, last, 2) } catch { /* torrent closing */ }
  }

  async stop(): Promise<void> {
    clearInterval(this.#stallTimer)
    const t = this.#t
    if (t.destroyed) return
    this.#last = { done: t.bitfield ? t.downloaded : 0, received: t.received, uploaded: t.uploaded }
    await new Promise<void>((resolve) => { t.destroy({ destroyStore: false }, () => resolve()) })
  }

  /**
   * webtorrent's fixed timers (10 s rechoke, 30 s piece timeout) can leave a downloader waiting on a peer that
   * chokes it or sits on its requests; a fresh connection makes the remote unchoke on our first "interested".
   */
  #watchStalls(options: EngineOptions): void {
    const torrent = this.#t
    let last = -1
    let since = Date.now()
    this.#stallTimer = setInterval(() => {
      if (torrent.destroyed || torrent.done) { clearInterval(this.#stallTimer); return }
      if (!torrent.ready) return
      const now = Date.now()
      // Raw bytes count as progress too: a slow (capped) transfer of a big piece is not a stall.
      const seen = torrent.downloaded + torrent.received
      if (seen !== last) { last = seen; since = now; return }
      if (now - since < options.stallTimeoutMs) return
      since = now
      const stuck = torrent.wires.filter((w) => w.amInterested && (w.peerChoking || w.requests.length > 0))
      if (stuck.length === 0) return
      options.log.info({ infoHash: this.infoHash, wires: stuck.length, done: torrent.downloaded }, 'swarm stalled; reconnecting stuck peers')
      for (const w of stuck) w.destroy()
    }, 1000)
    this.#stallTimer.unref()
  }
}

/** webtorrent 2.8 over TCP: no DHT, LSD, uTP, PEX, web seeds, UPnP/NAT-PMP. */
export async function startWebTorrentEngine(options: EngineOptions): Promise<SwarmEngine> {
  const WebTorrent = await loadWebTorrent()
  const client: WebTorrentClient = new WebTorrent({
    torrentPort: options.listenPort,
    dht: false, lsd: false, utp: false, utPex: false, natUpnp: false, natPmp: false, webSeeds: false,
    uploadLimit: options.uploadLimit ? options.uploadLimit : -1,
    downloadLimit: options.downloadLimit ? options.downloadLimit : -1,
    tracker: {},
  })
  client.on('error', (err: Error) => options.log.error({ err: err.message }, 'engine error'))
  if (!client.listening) await new Promise<void>((resolve) => client.once('listening', () => resolve()))
  const port = client.address()?.port ?? client.torrentPort

  const add = async (torrentBuf: Buffer, infoHash: string, opts: EngineAddOptions): Promise<EngineTorrent> => {
    const existing = client.torrents.find((t) => t.infoHash === infoHash)
    if (existing) existing.destroy()
    const spread = options.strategy === 'spread' && !opts.complete
    const torrent = client.add(torrentBuf, {
      path: opts.dir, announce: opts.trackers, skipVerify: opts.complete,
      strategy: options.strategy === 'rarest' ? 'rarest' : 'sequential', deselect: spread,
    })
    if (spread) {
      // Sequential from a random piece, wrapping around: peers hold different pieces early (what rarest-first
      // buys) at sequential's linear cost per request slot.
      torrent.once('ready', () => {
        const n = torrent.pieces.length
        const from = Math.floor(Math.random() * n)
        torrent.select(from, n - 1, 1)
        if (from > 0) torrent.select(0, from - 1, 0)
      })
    }
    const handle = new WebTorrentHandle(torrent, infoHash, options, opts.complete)
    await new Promise<void>((resolve, reject) => {
      const onReady = (): void => { torrent.off('error', onError); resolve() }
      const onError = (err: Error): void => { torrent.off('ready', onReady); reject(new SwarmError('SWARM_ENGINE_FAILED', `engine: ${err.message}`, { cause: err })) }
      if (torrent.ready) { resolve(); return }
      torrent.once('ready', onReady)
      torrent.once('error', onError)
    })
    handle.resumed = opts.complete ? 0 : torrent.downloaded
    return handle
  }

  return {
    kind: 'webtorrent',
    port,
    add,
    close: () => new Promise<void>((resolve) => client.destroy(() => resolve())),
  }
}
