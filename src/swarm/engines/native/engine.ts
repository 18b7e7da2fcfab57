// The in-process BitTorrent engine ('native'): bittorrent-protocol for the wire, colony's own announce client
// (announce-client.ts: HTTP and UDP trackers, no WebRTC code), and colony's own piece scheduling (torrent.ts). It
// exists because a fleet fed from one origin fetch is a broadcast, and stock engines schedule for strangers: aria2
// chokes and rate-shapes per peer, which leaves ~40 % of the fleet's upload idle (docs/benchmarks/swarm.md).
import { createHash, randomBytes } from 'node:crypto'
import { readSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import Wire from 'bittorrent-protocol'
import type { EngineAddOptions, EngineOptions, EngineTorrent, SwarmEngine } from '../engine.ts'
import { SwarmError } from '../../errors.ts'
import { AnnounceClient } from './announce/announce-client.ts'
import { adoptWithOnread, wireUp, type ByteSink, type ConnectionContext } from './connection.ts'
import { isColonyPeer, NativePeer, type PeerWire } from './peer.ts'
import { NativeTorrent } from './torrent.ts'
import type { NativeTorrentContext } from './torrent-types.ts'
import { ParkedConnections } from './parked-connections.ts'
import { PeerAdmission, plainIp, resolvePeerLimits, type PeerDropReason } from './peer-limits.ts'
import { InFlightBudget } from './pieces/in-flight-budget.ts'
import { PieceBufferPool } from './pieces/piece-buffers.ts'
import { PieceCache } from './pieces/piece-cache.ts'
import { TokenBucket } from '../../token-bucket.ts'
import { Uploader } from './uploader.ts'
import { isSafeSingleFile, parseTorrentFile } from '../../torrent-file.ts'
import type { WireGuard } from './wire/wire-guard.ts'
import { PEER_ID_PREFIX } from '../../wire-format.ts'
import { performance } from 'node:perf_hooks'

const noop = (): void => undefined
/** No peer with a missing piece for this long while downloading → announce again (a new seeder, a successor). */
const REANNOUNCE_IDLE_MS = 2_000
/** A full torrent gives a new connection the slot of a peer of no use for this long (or the idle limit, if shorter). */
const REPLACE_IDLE_MS = 2_000
/** A downloading torrent this young leaves finding peers to its trackers; older, with no peer of use, it dials the index's. */
const INDEX_PEER_GRACE_MS = 1000
/** How long an agent waits for a connection from a peer with a lower id before it dials that peer itself. */
const WAIT_FOR_DIAL_MS = 1000

/** The peers known for one object's segments (a group): where they listen, and who they are. */
type PeerGroup = {
  addresses: Set<string>
  torrents: number
  /** Peer id at each address we dialled. */
  idAt: Map<string, string>
  /** Agents that dialled us: they dial for the next segment too. */
  dialers: Set<string>
}

/** An incoming connection whose handshake came in; `forSlot` while it waits for a slot of a full torrent. */
type Parked = { wire: PeerWire; guard: WireGuard; socket: net.Socket; address: string; id: string; forSlot?: boolean }
/**
 * Recently written or read pieces kept in memory: what peers ask for next is mostly what just arrived. Small on
 * purpose: every cached piece is a buffer the pool cannot hand out again, so the budget is memory an agent touches
 * for the first time (a page fault per 4 KiB, ~50x the cost of copying into a reused buffer); a miss is a read
 * from the page cache into a reused buffer.
 */
const CACHE_BYTES = 8 * 1024 * 1024
/** Most bytes the capped uploader sends at once after an idle spell: two ticks' worth, and a peer's turn at least. */
export function uploadBurst(rate: number): number {
  return Math.max(PEER_TURN_BYTES, rate / 5)
}
/** Shortest wait of the capped uploader for tokens. */
const UPLOAD_TICK_MS = 100
/** Bytes sent to one peer before the uploader moves to the next: two whole-piece blocks between agents. */
const PEER_TURN_BYTES = 256 * 1024
/** Bytes one socket read may take (the engine has one such buffer, shared by every connection). */
const READ_BUFFER = 1024 * 1024

export async function startNativeEngine(options: EngineOptions): Promise<SwarmEngine> {
  const peerId = PEER_ID_PREFIX + randomBytes(12).toString('hex')
  const limits = resolvePeerLimits(options.peerLimits)
  const admission = new PeerAdmission(limits)
  const dropped = (reason: PeerDropReason, peer: string): void => {
    options.peerEvents?.dropped(reason)
    log.debug({ peer, reason }, 'dropped a peer connection')
  }
  // The cap is paced in slices of at least UPLOAD_TICK_MS: a capped agent wakes ~10 times a second and sends a few
  // blocks each time, rather than once per block (a wake-up of a process costs ~0.1 ms of CPU here, far more than
  // the write).
  const upload = new TokenBucket({ rate: options.uploadLimit, burst: uploadBurst(options.uploadLimit) })
  const torrents = new Map<string, NativeTorrent>()
  const trackers = new Map<NativeTorrent, AnnounceClient>()
  const lastAnnounce = new Map<NativeTorrent, number>()
  const buffers = new PieceBufferPool()
  const cache = new PieceCache(CACHE_BYTES, buffers)
  const banned = new Set<string>()
  const dialing = new Set<string>()
  const sockets = new Set<net.Socket>()
  const log = options.log
  // Peer addresses heard of per group (an object's segments), and which group each torrent is in: a follower joining
  // a new segment dials the fleet it already knows at once, rather than after a tracker round trip (0.1–0.45 s
  // under load, 0.45–0.76 s for the first segment with every agent announcing at once).
  const groups = new Map<string, PeerGroup>()
  const groupOf = new Map<NativeTorrent, string>()
  const groupFor = (t: NativeTorrent): PeerGroup | undefined => groups.get(groupOf.get(t) ?? '')

  // Uploads: one queue per peer, served in turns under the agent's cap (uploader.ts).
  const uploader = new Uploader(upload, { turnBytes: PEER_TURN_BYTES, tickMs: UPLOAD_TICK_MS })

  const ctx: NativeTorrentContext = {
    peerId, log, banned,
    download: new TokenBucket({ rate: options.downloadLimit }),
    buffers,
    inFlight: new InFlightBudget(),
    readPiece: (t, index) => cache.get(t.infoHash, index, async () => {
      const buf = buffers.take(t.pieceSize(index))
      // Synchronous, as the piece writes: the pieces an agent serves are ones it wrote or read a moment ago, in
      // the page cache, and a 64 KiB read from there costs ~15 µs of this thread against ~140 µs for the promise
      // API's round trip through the thread pool. A failed read still rejects (the loader is async).
      const bytesRead = readSync((t.fh as NonNullable<typeof t.fh>).fd, buf, 0, buf.length, t.offset + index * t.pieceLength)
      if (bytesRead !== buf.length) throw new Error(`short read of piece ${index}`)
      return buf
    }),
    keepPiece: (t, index, data) => cache.put(t.infoHash, index, data),
    freshElsewhere: (t) => {
      const now = performance.now()
      for (const o of torrents.values()) if (o !== t && !o.stopped && (o.unrevealed > 0 || o.awaitingFirstCopies(now))) return true
      return false
    },
    wantsUpload: (peer) => { uploader.want(peer) },
    indexPeersAdded: (t) => dialIndexPeers(t),
    peerLeft: (t) => { if (parked.waitingFor(t.infoHash) > 0) unparkFor(t) },
    detached: (t) => {
      lastAnnounce.delete(t)
      const g = groupOf.get(t)
      groupOf.delete(t)
      const entry = g === undefined ? undefined : groups.get(g)
      if (entry && --entry.torrents <= 0) groups.delete(g as string)
      if (torrents.get(t.infoHash) === t) torrents.delete(t.infoHash)
      cache.drop(t.infoHash)
      const tc = trackers.get(t)
      trackers.delete(t)
      // 'stopped' to each tracker, best effort within SWARM_DEFAULTS.announce.stopTimeoutMs.
      tc?.stop()
    },
  }

  // Every connection reads into this one buffer and hands each read to its parser before the next read: no
  // allocation, 'data' event or stream bookkeeping per read, and a read takes all that is queued (up to 1 MiB)
  // instead of 64 KiB. The parser copies what it keeps (WireFeeder).
  const readBuf = Buffer.allocUnsafe(READ_BUFFER)
  const readInto = (sink: ByteSink): net.OnReadOpts => ({ buffer: readBuf, callback: (n: number, buf: Uint8Array) => { sink.feed(buf.subarray(0, n)); return true } })

  const conn: ConnectionContext = {
    Wire, buffers, sockets, handshakeTimeoutMs: limits.handshakeTimeoutMs,
    protocolError: (reason, peer, err) => {
      options.peerEvents?.protocolError(reason)
      log.debug({ peer, reason, err: err === undefined ? undefined : String(err) }, 'closing a peer connection: protocol error')
    },
  }

  const refused = (id: string): boolean => id === peerId || banned.has(`id:${id}`)

  // Incoming connections may open with the MSE/PE obfuscation handshake (transmission and libtorrent prefer it):
  // the SKEY names the torrent as SHA-1('req2' + info hash).
  const byKeyHash = (keyHash: string): NativeTorrent | undefined => {
    for (const t of torrents.values()) if (createHash('sha1').update('req2').update(Buffer.from(t.infoHash, 'hex')).digest('hex') === keyHash) return t
    return undefined
  }
  const accept = (socket: net.Socket, sink: ByteSink): void => {
    const address = `${plainIp(socket.remoteAddress)}:${socket.remotePort ?? 0}`
    socket.on('error', () => socket.destroy())
    if (!admission.admit(socket)) { dropped('per_ip', address); socket.destroy(); return }
    log.debug({ peer: address }, 'incoming BitTorrent connection')
    socket.setTimeout(limits.handshakeTimeoutMs, () => { if (!sockets.has(socket)) socket.destroy() })
    // A plain handshake starts with 19; anything else is MSE. The Wire computes Diffie-Hellman keys up front when
    // MSE is on (~2 ms of CPU), so it is on only for connections that need it, at most limits.encryptedPerSecond.
    sink.feed = (first) => {
      const pe = first[0] !== 19
      if (pe && !admission.allowEncrypted()) { dropped('encrypted_rate', address); socket.destroy(); return }
      const { wire, guard } = wireUp(conn, socket, sink, 'tcpIncoming', address, pe)
      socket.setTimeout(0)
      if (pe) {
        wire.once('pe1', () => wire.sendPe2())
        wire.once('pe3', (keyHash: string) => {
          const t = byKeyHash(keyHash)
          if (t) void Promise.resolve(wire.sendPe4(t.infoHash)).catch(() => socket.destroy())
          else socket.destroy()
        })
      }
      wire.once('handshake', (infoHash: string, id: string) => {
        const t = torrents.get(infoHash)
        if (refused(id)) { socket.destroy(); return }
        if (!t) { parked.park(infoHash, { wire, guard, socket, address, id }); return }
        answer(t, { wire, guard, socket, address, id })
      })
      sink.feed(first)
    }
  }
  /**
   * An incoming connection whose handshake named `t`: answer it and hand it over. A full torrent gives it the slot of
   * a peer of no use for a while (takeIdleSlot), else it waits in line for the next slot that frees (parked).
   */
  const answer = (t: NativeTorrent, c: Parked): void => {
    if (t.stopped) { c.socket.destroy(); return }
    if (t.peers.size >= limits.maxPeersPerTorrent) {
      // A slot freed here goes to the connections already in line, the oldest first (peerLeft hands it over).
      const inLine = parked.waitingFor(t.infoHash) > 0
      const idle = t.takeIdleSlot(Math.min(limits.idleMs, REPLACE_IDLE_MS))
      if (idle) dropped('idle', idle.address)
      if (!idle || inLine) {
        if (!parked.park(t.infoHash, { ...c, forSlot: true })) dropped('torrent_full', c.address)
        return
      }
    }
    if (isColonyPeer(c.id)) groupFor(t)?.dialers.add(c.id)
    c.guard.setBounds({ pieces: t.count, pieceLength: t.pieceLength })
    c.wire.handshake(t.infoHash, peerId, { dht: false, fast: false })
    t.attach(new NativePeer(c.wire, c.guard, c.socket, c.address, false))
  }
  const parked = new ParkedConnections<Parked>({
    maxPerTorrent: limits.maxPeersPerTorrent,
    expired: (c) => { if (c.forSlot) dropped('torrent_full', c.address) },
  })
  /** Hands `t` the connections waiting for it, oldest first, as many as it has free slots. */
  const unparkFor = (t: NativeTorrent): void => {
    if (t.stopped) return
    for (const c of parked.take(t.infoHash, limits.maxPeersPerTorrent - t.peers.size)) answer(t, c)
  }

  const server = net.createServer({ pauseOnConnect: true }, (accepted) => {
    const sink: ByteSink = { feed: noop }
    accept(adoptWithOnread(server, accepted, readInto(sink)), sink)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new SwarmError('SWARM_ENGINE_FAILED', `cannot listen on BitTorrent port ${options.listenPort}: ${err.message}`, { cause: err })))
    server.listen(options.listenPort, options.peerHost, () => resolve())
  })
  server.on('error', (err) => log.error({ err: err.message }, 'BitTorrent listener error'))
  const port = (server.address() as net.AddressInfo).port

  /**
   * Dials `address` for `t`, unless that peer is connected already. Between two agents that both dial (followers),
   * the one with the higher peer id waits WAIT_FOR_DIAL_MS for the other's connection first: both dialling at
   * once makes every fifth connection a duplicate to close (16 agents × 128 MB: 540 of 2 490).
   */
  const connect = (t: NativeTorrent, address: string, waited = false): void => {
    const key = `${t.infoHash}|${address}`
    if (t.stopped || dialing.has(key) || banned.has(address) || t.peers.size >= limits.maxPeersPerTorrent) return
    for (const p of t.peers.values()) if (p.address === address) return
    const g = groupFor(t)
    const known = g?.idAt.get(address)
    if (known !== undefined && t.peers.has(known)) return
    if (!waited && known !== undefined && g?.dialers.has(known) && known < peerId) {
      setTimeout(() => connect(t, address, true), WAIT_FOR_DIAL_MS).unref()
      return
    }
    // A seed waits to be dialled: whoever still needs pieces dials the peers its tracker, group or index names. A
    // seed that dialled the peers of each announce answer met mostly other seeds, every tracker interval again — a
    // handshake, two bitfields and a close for nothing (docs/benchmarks/swarm.md). A super-seeding leader dials each
    // peer once (its fresh pieces exist nowhere else yet); a peer that needs it later dials it.
    if (t.complete) {
      if (!t.superSeeding || t.dialledComplete.has(address)) return
      t.dialledComplete.add(address)
    }
    const at = address.lastIndexOf(':')
    // "[v6]:port" as the tracker's peers6 give it; net.connect takes the address without brackets.
    const host = address.slice(0, at).replace(/^\[(.*)\]$/, '$1')
    const p = Number(address.slice(at + 1))
    if (!host || !(p > 0 && p < 65536)) return
    dialing.add(key)
    log.debug({ infoHash: t.infoHash, peer: address }, 'dialing peer')
    const sink: ByteSink = { feed: noop }
    const socket = net.connect({ host, port: p, onread: readInto(sink) })
    socket.setTimeout(limits.handshakeTimeoutMs, () => socket.destroy())
    socket.once('close', (hadError) => { dialing.delete(key); log.debug({ peer: address, hadError, handshake: !!wire.peerId }, 'peer connection closed') })
    const { wire, guard } = wireUp(conn, socket, sink, 'tcpOutgoing', address)
    guard.setBounds({ pieces: t.count, pieceLength: t.pieceLength })
    wire.once('handshake', (infoHash: string, id: string) => {
      dialing.delete(key)
      socket.setTimeout(0)
      if (infoHash !== t.infoHash || refused(id) || t.stopped) { socket.destroy(); return }
      groupFor(t)?.idAt.set(address, id)
      t.attach(new NativePeer(wire, guard, socket, address, true))
    })
    wire.handshake(t.infoHash, peerId, { dht: false, fast: false })
  }

  const useful = (t: NativeTorrent): boolean => [...t.peers.values()].some((p) => !p.wire.peerChoking || p.fetching.size > 0)
  /**
   * Dials the peers the index named for `t` when none of its peers is of use once the trackers had their chance
   * (every tracker down, or none knowing a seeder). They join the group's addresses, so the object's next
   * segments dial them at once.
   */
  const dialIndexPeers = (t: NativeTorrent): void => {
    if (t.complete || t.stopped || t.indexPeers.size === 0 || t.ageMs < INDEX_PEER_GRACE_MS || useful(t)) return
    const g = groupFor(t)
    for (const [address, id] of t.indexPeers) {
      if (id === peerId || t.peers.has(id)) continue
      g?.addresses.add(address)
      connect(t, address)
    }
  }

  const idleTimer = setInterval(() => {
    const now = Date.now()
    for (const [t, tc] of trackers) {
      if (t.complete || t.stopped || useful(t)) continue
      const last = lastAnnounce.get(t) ?? 0
      if (now - last >= REANNOUNCE_IDLE_MS) { lastAnnounce.set(t, now); tc.update() }
      dialIndexPeers(t)
    }
  }, 1000)
  idleTimer.unref()
  // Peers of no use for limits.idleMs give their slot back (squatters: a handshake, then nothing).
  const evictTimer = setInterval(() => {
    for (const t of torrents.values()) for (const p of t.evictIdle(limits.idleMs)) dropped('idle', p.address)
  }, Math.min(1000, Math.max(50, limits.idleMs / 2)))
  evictTimer.unref()

  const add = async (torrentBuf: Buffer, infoHash: string, opts: EngineAddOptions): Promise<EngineTorrent> => {
    await torrents.get(infoHash)?.stop()
    const parsed = await parseTorrentFile(torrentBuf)
    if (!isSafeSingleFile(parsed)) {
      throw new SwarmError('SWARM_TORRENT_INVALID', `torrent ${infoHash} names an unsafe or multi-file payload ${JSON.stringify(parsed.name)}`)
    }
    const file = opts.placement?.file ?? path.join(opts.dir, parsed.name)
    const t = new NativeTorrent(ctx, parsed, infoHash, {
      file, offset: opts.placement?.offset ?? 0, complete: opts.complete, superSeed: opts.superSeed ?? false,
      ...(opts.moreComing ? { moreComing: opts.moreComing } : {}),
    })
    try { await t.open() } catch (err) {
      await t.stop()
      throw err instanceof SwarmError ? err : new SwarmError('SWARM_ENGINE_FAILED', `cannot open ${parsed.name}: ${(err as Error).message}`, { cause: err })
    }
    torrents.set(infoHash, t)
    const tc = new AnnounceClient({
      infoHash, peerId, port, announce: [...new Set([...opts.trackers, ...parsed.announce])],
      getAnnounceOpts: () => ({ uploaded: t.uploaded, downloaded: t.received, left: t.left }),
    })
    const group = opts.group === undefined ? undefined : groups.get(opts.group) ?? { addresses: new Set<string>(), torrents: 0, idAt: new Map<string, string>(), dialers: new Set<string>() }
    if (group && opts.group !== undefined) {
      groups.set(opts.group, group)
      groupOf.set(t, opts.group)
      group.torrents++
    }
    unparkFor(t)
    // Seeders wait to be dialled: a follower may not have joined this segment yet.
    if (group && !t.complete) for (const addr of group.addresses) connect(t, addr)
    tc.on('peer', (addr) => { group?.addresses.add(addr); connect(t, addr) })
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
    peerId,
    inPlace: true,
    add,
    close: async () => {
      clearInterval(idleTimer)
      clearInterval(evictTimer)
      uploader.stop()
      await Promise.all([...torrents.values()].map((t) => t.stop()))
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
