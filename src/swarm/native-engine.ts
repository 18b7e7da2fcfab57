// The in-process BitTorrent engine ('native'): bittorrent-protocol for the wire, bittorrent-tracker's client for
// announces, and colony's own piece scheduling (native-torrent.ts). It exists because a fleet fed from one origin
// fetch is a broadcast, and the stock engines schedule for strangers: aria2 chokes and rate-shapes per peer, and
// left ~40 % of the fleet's upload idle (docs/benchmarks/swarm.md); webtorrent's JS pipeline cost 10× aria2's CPU.
import { createHash, randomBytes } from 'node:crypto'
import net from 'node:net'
import path from 'node:path'
import type { EngineAddOptions, EngineOptions, EngineTorrent, SwarmEngine } from './engine.ts'
import { SwarmError } from './errors.ts'
import { loadWire, MAX_MESSAGE, NativePeer, PEER_ID_PREFIX, WireFeeder, type PeerWire, type WireConstructor } from './native-peer.ts'
import { NativeTorrent, type NativeTorrentContext } from './native-torrent.ts'
import { PieceCache } from './piece-cache.ts'
import { TokenBucket } from './token-bucket.ts'
import { isSafeSingleFile, parseTorrentFile } from './torrent-file.ts'

/** bittorrent-tracker's Client (untyped): the slice the engine uses. */
type TrackerClient = {
  on(event: 'peer', fn: (addr: string) => void): void
  on(event: 'error' | 'warning', fn: (err: Error) => void): void
  start(): void
  update(): void
  complete(): void
  stop(): void
  destroy(cb?: () => void): void
}
type TrackerClientConstructor = new (opts: {
  infoHash: string; peerId: string; announce: string[]; port: number
  getAnnounceOpts: () => { uploaded: number; downloaded: number; left: number }
}) => TrackerClient

async function loadTrackerClient(): Promise<TrackerClientConstructor> {
  const specifier = 'bittorrent-tracker'
  return ((await import(specifier)) as { default: TrackerClientConstructor }).default
}

const HANDSHAKE_TIMEOUT_MS = 10_000
const noop = (): void => undefined
/** No peer with a missing piece for this long while downloading → announce again (a new seeder, a successor). */
const REANNOUNCE_IDLE_MS = 2_000
/** Most connections per torrent (aria2's default is 55). */
const MAX_PEERS = 64
/** Recently written or read pieces kept in memory: what peers ask for next is mostly what just arrived. */
const CACHE_BYTES = 32 * 1024 * 1024

export async function startNativeEngine(options: EngineOptions): Promise<SwarmEngine> {
  const Wire: WireConstructor = await loadWire()
  const Tracker = await loadTrackerClient()
  const peerId = PEER_ID_PREFIX + randomBytes(12).toString('hex')
  const upload = new TokenBucket({ rate: options.uploadLimit })
  const torrents = new Map<string, NativeTorrent>()
  const trackers = new Map<NativeTorrent, TrackerClient>()
  const lastAnnounce = new Map<NativeTorrent, number>()
  const cache = new PieceCache(CACHE_BYTES)
  const banned = new Set<string>()
  const dialing = new Set<string>()
  const sockets = new Set<net.Socket>()
  const log = options.log

  // Uploads: one queue per peer, served round-robin under the agent's cap.
  const ready = new Set<NativePeer>()
  let pumpTimer: NodeJS.Timeout | undefined
  const pump = (): void => {
    if (pumpTimer) return
    for (;;) {
      const peer = ready.values().next().value as NativePeer | undefined
      if (!peer) return
      ready.delete(peer)
      const job = peer.queue[0]
      if (peer.closed || !job) continue
      if (peer.congested) {
        // One listener per congestion, however many requests arrive meanwhile.
        if (!peer.awaitingDrain) {
          peer.awaitingDrain = true
          peer.socket.once('drain', () => { peer.awaitingDrain = false; if (peer.queue.length) { ready.add(peer); pump() } })
        }
        continue
      }
      if (!upload.tryTake(job.length)) {
        ready.add(peer)
        pumpTimer = setTimeout(() => { pumpTimer = undefined; pump() }, upload.waitMs(job.length))
        return
      }
      peer.queue.shift()
      if (peer.queue.length) ready.add(peer)
      job.read().then((block) => job.respond(null, block), (err: unknown) => job.respond(err as Error))
    }
  }

  const ctx: NativeTorrentContext = {
    peerId, log, banned,
    download: new TokenBucket({ rate: options.downloadLimit }),
    readPiece: (t, index) => cache.get(t.infoHash, index, async () => {
      const buf = Buffer.allocUnsafe(t.pieceSize(index))
      const { bytesRead } = await (t.fh as NonNullable<typeof t.fh>).read(buf, 0, buf.length, index * t.pieceLength)
      if (bytesRead !== buf.length) throw new Error(`short read of piece ${index}`)
      return buf
    }),
    keepPiece: (t, index, data) => cache.put(t.infoHash, index, data),
    wantsUpload: (peer) => { ready.add(peer); pump() },
    detached: (t) => {
      lastAnnounce.delete(t)
      if (torrents.get(t.infoHash) === t) torrents.delete(t.infoHash)
      cache.drop(t.infoHash)
      const tc = trackers.get(t)
      trackers.delete(t)
      if (tc) {
        tc.stop()
        setTimeout(() => tc.destroy(), 500).unref()
      }
    },
  }

  /**
   * Wires a socket to a Wire without its stream machinery: bytes in go straight to the Wire's parser, and what
   * the Wire sends goes straight to the socket, corked for the rest of the tick (a block's header and body, a
   * batch of HAVEs leave in one writev). In a 16-agent mesh the streams' per-chunk scheduling, and a write and a
   * wake-up per message, were most of the engine's CPU. A peer that would make the parser buffer more than
   * MAX_MESSAGE (a garbage length) is dropped.
   */
  const wireUp = (socket: net.Socket, type: string, pe = false): PeerWire => {
    const wire = new Wire(type, 0, pe)
    sockets.add(socket)
    socket.setNoDelay(true)
    socket.on('error', () => socket.destroy())
    socket.once('close', () => { sockets.delete(socket); wire.destroy() })
    wire.on('error', () => socket.destroy())
    let corked = false
    const uncork = (): void => { corked = false; socket.uncork() }
    wire.push = (chunk: Uint8Array | null): boolean => {
      if (socket.destroyed) return false
      if (chunk === null) { socket.end(); return false }
      if (!corked) { corked = true; socket.cork(); process.nextTick(uncork) }
      socket.write(chunk)
      return true
    }
    // MSE connections go through the Wire's own path, which decrypts; plain ones through the feeder.
    const feeder = pe ? undefined : new WireFeeder(wire)
    socket.on('data', (chunk: Buffer) => {
      if (feeder) feeder.push(chunk)
      else wire._write(chunk, noop)
      if ((feeder?.size ?? wire._bufferSize) > MAX_MESSAGE) socket.destroy()
    })
    socket.once('end', () => wire.end())
    const timer = setTimeout(() => { if (!wire.peerId) socket.destroy() }, HANDSHAKE_TIMEOUT_MS)
    timer.unref()
    wire.once('handshake', () => clearTimeout(timer))
    return wire
  }

  const refused = (id: string): boolean => id === peerId || banned.has(`id:${id}`)

  // Incoming connections may open with the MSE/PE obfuscation handshake (transmission and libtorrent prefer it):
  // the SKEY names the torrent as SHA-1('req2' + info hash).
  const byKeyHash = (keyHash: string): NativeTorrent | undefined => {
    for (const t of torrents.values()) if (createHash('sha1').update('req2').update(Buffer.from(t.infoHash, 'hex')).digest('hex') === keyHash) return t
    return undefined
  }
  const server = net.createServer((socket) => {
    const address = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`
    log.debug({ peer: address }, 'incoming BitTorrent connection')
    // A plain handshake starts with 19; anything else is MSE. The Wire computes Diffie-Hellman keys up front when
    // MSE is on (~2 ms of CPU), so it is on only for connections that need it.
    socket.once('data', (first: Buffer) => {
      socket.pause()
      socket.unshift(first)
      const pe = first[0] !== 19
      const wire = wireUp(socket, 'tcpIncoming', pe)
      socket.setTimeout(0)
      if (pe) {
        wire.once('pe1', () => wire.sendPe2())
        wire.once('pe3', (keyHash: string) => {
          const t = byKeyHash(keyHash)
          if (t) wire.sendPe4(t.infoHash)
          else socket.destroy()
        })
      }
      wire.once('handshake', (infoHash: string, id: string) => {
        const t = torrents.get(infoHash)
        if (!t || refused(id) || t.peers.size >= MAX_PEERS) { socket.destroy(); return }
        wire.handshake(infoHash, peerId, { dht: false, fast: false })
        t.attach(new NativePeer(wire, socket, address, false))
      })
      socket.resume()
    })
    socket.on('error', () => socket.destroy())
    socket.setTimeout(HANDSHAKE_TIMEOUT_MS, () => { if (!sockets.has(socket)) socket.destroy() })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new SwarmError('SWARM_ENGINE_FAILED', `cannot listen on BitTorrent port ${options.listenPort}: ${err.message}`, { cause: err })))
    server.listen(options.listenPort, () => resolve())
  })
  server.on('error', (err) => log.error({ err: err.message }, 'BitTorrent listener error'))
  const port = (server.address() as net.AddressInfo).port

  const connect = (t: NativeTorrent, address: string): void => {
    const key = `${t.infoHash}|${address}`
    if (t.stopped || dialing.has(key) || banned.has(address) || t.peers.size >= MAX_PEERS) return
    for (const p of t.peers.values()) if (p.address === address) return
    const at = address.lastIndexOf(':')
    const host = address.slice(0, at)
    const p = Number(address.slice(at + 1))
    if (!host || !(p > 0 && p < 65536)) return
    dialing.add(key)
    log.debug({ infoHash: t.infoHash, peer: address }, 'dialing peer')
    const socket = net.connect({ host, port: p })
    socket.setTimeout(HANDSHAKE_TIMEOUT_MS, () => socket.destroy())
    socket.once('close', (hadError) => { dialing.delete(key); log.debug({ peer: address, hadError, handshake: !!wire.peerId }, 'peer connection closed') })
    const wire = wireUp(socket, 'tcpOutgoing')
    wire.once('handshake', (infoHash: string, id: string) => {
      dialing.delete(key)
      socket.setTimeout(0)
      if (infoHash !== t.infoHash || refused(id) || t.stopped) { socket.destroy(); return }
      t.attach(new NativePeer(wire, socket, address, true))
    })
    wire.handshake(t.infoHash, peerId, { dht: false, fast: false })
  }

  const idleTimer = setInterval(() => {
    const now = Date.now()
    for (const [t, tc] of trackers) {
      if (t.complete || t.stopped) continue
      const useful = [...t.peers.values()].some((p) => !p.wire.peerChoking || p.fetching.size > 0)
      const last = lastAnnounce.get(t) ?? 0
      if (!useful && now - last >= REANNOUNCE_IDLE_MS) { lastAnnounce.set(t, now); tc.update() }
    }
  }, 1000)
  idleTimer.unref()

  const add = async (torrentBuf: Buffer, infoHash: string, opts: EngineAddOptions): Promise<EngineTorrent> => {
    await torrents.get(infoHash)?.stop()
    const parsed = await parseTorrentFile(torrentBuf)
    if (!isSafeSingleFile(parsed)) {
      throw new SwarmError('SWARM_TORRENT_INVALID', `torrent ${infoHash} names an unsafe or multi-file payload ${JSON.stringify(parsed.name)}`)
    }
    const t = new NativeTorrent(ctx, parsed, infoHash, { file: path.join(opts.dir, parsed.name), complete: opts.complete, superSeed: opts.superSeed ?? false })
    try { await t.open() } catch (err) {
      await t.stop()
      throw err instanceof SwarmError ? err : new SwarmError('SWARM_ENGINE_FAILED', `cannot open ${parsed.name}: ${(err as Error).message}`, { cause: err })
    }
    torrents.set(infoHash, t)
    const tc = new Tracker({
      infoHash, peerId, port, announce: [...new Set([...opts.trackers, ...parsed.announce])],
      getAnnounceOpts: () => ({ uploaded: t.uploaded, downloaded: t.received, left: t.left }),
    })
    tc.on('peer', (addr) => connect(t, addr))
    tc.on('error', (err) => log.debug({ infoHash, err: err.message }, 'tracker error'))
    tc.on('warning', (err) => log.debug({ infoHash, err: err.message }, 'tracker warning'))
    trackers.set(t, tc)
    lastAnnounce.set(t, Date.now())
    tc.start()
    if (!t.complete) t.once('done', () => { if (!t.stopped) tc.complete() })
    return t
  }

  return {
    kind: 'native',
    port,
    add,
    close: async () => {
      clearInterval(idleTimer)
      clearTimeout(pumpTimer)
      await Promise.all([...torrents.values()].map((t) => t.stop()))
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
