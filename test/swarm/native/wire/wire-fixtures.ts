// Fixtures for attacking the native engine's BitTorrent listener: message builders, a raw TCP peer that sends
// whatever bytes a test gives it, and an engine seeding a random object.
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { createSilentLogger } from '../../../../src/shared/logger.ts'
import type { EngineOptions, EngineTorrent, SwarmEngine } from '../../../../src/swarm/engines/engine.ts'
import { startNativeEngine } from '../../../../src/swarm/engines/native/engine.ts'
import Wire from 'bittorrent-protocol'
import type { PeerWire } from '../../../../src/swarm/engines/native/peer.ts'
import { encryptedFeed } from '../../../../src/swarm/engines/native/wire/mse-wire.ts'
import { buildTorrentFile, PieceHasher } from '../../../../src/swarm/torrent-file.ts'

/** Big-endian 32-bit words. */
export function u32(...ns: number[]): Buffer {
  const b = Buffer.alloc(4 * ns.length)
  ns.forEach((n, i) => b.writeUInt32BE(n >>> 0, 4 * i))
  return b
}

/** A length-prefixed message: <len><id><parts…>. */
export function message(id: number, ...parts: Uint8Array[]): Buffer {
  const body = Buffer.concat([Buffer.from([id]), ...parts])
  return Buffer.concat([u32(body.length), body])
}

/** An extended message (id 20) carrying `ext` and the payload. */
export function extended(ext: number, payload: Buffer | string): Buffer {
  return message(20, Buffer.from([ext]), Buffer.from(payload))
}

/** A plain handshake; `extendedBit` sets the BEP 10 flag (the engine then sends its extended handshake first). */
export function handshake(infoHash: string, peerId: Buffer = randomBytes(20), extendedBit = false): Buffer {
  const reserved = Buffer.alloc(8)
  if (extendedBit) reserved[5] = 0x10
  return Buffer.concat([Buffer.from([19]), Buffer.from('BitTorrent protocol'), reserved, Buffer.from(infoHash, 'hex'), peerId])
}

/** A TCP connection to the engine that sends raw bytes and keeps what comes back. */
export type RawPeer = {
  socket: net.Socket
  /** Everything received so far. */
  received(): Buffer
  send(bytes: Uint8Array): void
  /** Resolves once the engine closed the connection (or it failed). */
  closed: Promise<void>
  isClosed(): boolean
  /** Resolves once at least `n` bytes came back; rejects if the connection closes first. */
  waitBytes(n: number, timeoutMs?: number): Promise<Buffer>
  close(): void
}

export async function rawPeer(port: number, options: { host?: string; localAddress?: string } = {}): Promise<RawPeer> {
  const socket = net.connect({ port, host: options.host ?? '127.0.0.1', ...(options.localAddress ? { localAddress: options.localAddress } : {}) })
  const chunks: Buffer[] = []
  let size = 0
  let isClosed = false
  const waiters = new Set<() => void>()
  const wake = (): void => { for (const w of [...waiters]) w() }
  socket.on('data', (b: Buffer) => { chunks.push(b); size += b.length; wake() })
  socket.on('error', () => undefined)
  const closed = new Promise<void>((resolve) => socket.once('close', () => { isClosed = true; wake(); resolve() }))
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('close', () => reject(new Error('connection closed before it opened')))
  })
  const received = (): Buffer => Buffer.concat(chunks, size)
  return {
    socket, received, closed,
    isClosed: () => isClosed,
    send: (bytes) => { if (!socket.destroyed) socket.write(bytes) },
    close: () => socket.destroy(),
    waitBytes: (n, timeoutMs = 5000) => new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`${size} of ${n} bytes after ${timeoutMs} ms`)) }, timeoutMs)
      const check = (): void => {
        if (size >= n) { clearTimeout(timer); waiters.delete(check); resolve(received()) }
        else if (isClosed) { clearTimeout(timer); waiters.delete(check); reject(new Error(`closed after ${size} of ${n} bytes`)) }
      }
      waiters.add(check)
      check()
    }),
  }
}

/** Resolves when `peer` is closed, rejects after `timeoutMs`. */
export async function closedWithin(peer: RawPeer, timeoutMs: number, what = 'connection'): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    peer.closed,
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} still open after ${timeoutMs} ms`)), timeoutMs) }),
  ]).finally(() => clearTimeout(timer))
}

export type TestObject = { data: Buffer; torrent: Buffer; infoHash: string; pieces: number; pieceLength: number }

/** An object (random bytes unless given) and its torrent (no tracker unless given: peers are dialled by hand). */
export async function makeObject(size: number, pieceLength = 64 * 1024, announce: string[] = [], data: Buffer = randomBytes(size)): Promise<TestObject> {
  const h = new PieceHasher(pieceLength)
  h.update(data)
  const { torrent, parsed } = await buildTorrentFile({ name: 'obj.bin', length: size, pieceLength, pieces: h.finish().pieces, announce })
  return { data, torrent, infoHash: parsed.infoHash, pieces: Math.ceil(size / pieceLength), pieceLength }
}

export function engineOptions(dataDir: string, extra: Partial<EngineOptions> = {}): EngineOptions {
  return { listenPort: 0, uploadLimit: 0, downloadLimit: 0, dataDir, log: createSilentLogger(), ...extra }
}

/** An engine seeding `obj` from `dir`/seed/obj.bin. */
export async function startSeed(dir: string, obj: TestObject, extra: Partial<EngineOptions> = {}): Promise<{ engine: SwarmEngine; torrent: EngineTorrent }> {
  const seedDir = path.join(dir, `seed-${randomBytes(4).toString('hex')}`)
  await mkdir(seedDir, { recursive: true })
  await writeFile(path.join(seedDir, 'obj.bin'), obj.data)
  const engine = await startNativeEngine(engineOptions(dir, extra))
  const torrent = await engine.add(obj.torrent, obj.infoHash, { dir: seedDir, complete: true, trackers: [] })
  return { engine, torrent }
}

/** Resolves once `t` has every piece. */
export function whenDone(t: EngineTorrent): Promise<void> {
  return new Promise((resolve, reject) => {
    if (t.status().complete) { resolve(); return }
    t.once('done', () => resolve())
    t.once('error', reject)
  })
}

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** bittorrent-protocol's Wire as an MSE client: the slice the fixture drives. */
type MseWire = PeerWire & {
  pipe<T>(dest: T): T
  sendPe1(): void
  setEncrypt(secret: string, infoHash: string): Promise<boolean>
  _sharedSecret: string
  _encryptHandshake(buf: Uint8Array): Uint8Array
  _push(data: Uint8Array): boolean
  _parsePe2(): void
}

/**
 * An encrypted (MSE/PE, RC4) connection to the engine for `infoHash`, resolved once the BitTorrent handshake
 * inside it came back. bittorrent-protocol's own initiator side cannot do it unaided: its third step writes its
 * padding with a Buffer method on a Uint8Array, and its other steps have the faults mse-wire.ts repairs. The
 * fixture sends step 3 itself (no padding) and feeds the Wire the way the engine does.
 */
export async function msePeer(port: number, infoHash: string): Promise<{ wire: PeerWire; socket: net.Socket }> {
  const MseClient = Wire as unknown as new (type: string, retries: number, pe: boolean) => MseWire
  const wire = new MseClient('tcpOutgoing', 0, true)
  wire._debug = () => undefined
  const socket = net.connect({ port, host: '127.0.0.1' })
  socket.on('error', () => undefined)
  wire.on('error', () => socket.destroy())
  const feed = encryptedFeed(wire, () => socket.destroy())
  // The constructor named the first step (read the responder's key) before the feed was in place: again, held.
  wire._parsePe2()
  socket.on('data', (b: Buffer) => feed(b))
  wire.pipe(socket)
  const sha1 = (...parts: Uint8Array[]): Buffer => createHash('sha1').update(Buffer.concat(parts)).digest()
  const sendPe3 = async (): Promise<void> => {
    await wire.setEncrypt(wire._sharedSecret, infoHash)
    const secret = Buffer.from(wire._sharedSecret, 'hex')
    const skey = sha1(Buffer.from('req2'), Buffer.from(infoHash, 'hex'))
    const req3 = sha1(Buffer.from('req3'), secret)
    for (let i = 0; i < 20; i++) skey[i] = (skey[i] ?? 0) ^ (req3[i] ?? 0)
    // VC (8 zero bytes), crypto_provide = RC4, no PadC, no initial payload.
    const plain = Buffer.alloc(16)
    plain.writeUInt32BE(2, 8)
    wire._push(Buffer.concat([sha1(Buffer.from('req1'), secret), skey, wire._encryptHandshake(plain)]))
  }
  wire.once('pe2', () => { sendPe3().catch(() => socket.destroy()) })
  wire.once('pe4', () => wire.handshake(infoHash, randomBytes(20).toString('hex')))
  socket.once('connect', () => wire.sendPe1())
  await new Promise<void>((resolve, reject) => {
    wire.once('handshake', () => resolve())
    socket.once('close', () => reject(new Error('the encrypted connection closed before its handshake')))
  })
  return { wire, socket }
}
