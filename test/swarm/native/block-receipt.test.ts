// What a downloading engine does with the blocks a peer sends it: a block it never asked for, or one it has
// already, is dropped (a cancel may cross a block on the wire) and the download completes from the blocks it did
// ask for; a block of the wrong size bans the peer. Blocks go to the file as they arrive: a piece whose blocks came
// out of order is verified from the file, a corrupt one is never had nor announced and is fetched again over the
// bad bytes, and a write that fails is the engine's error. The peer is a raw TCP server speaking the wire by hand.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rm, symlink } from 'node:fs/promises'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { EngineTorrent, SwarmEngine } from '../../../src/swarm/engines/engine.ts'
import { startNativeEngine } from '../../../src/swarm/engines/native/engine.ts'
import { makeTempDir } from '../../../support/services.ts'
import { engineOptions, handshake, makeObject, message, u32, whenDone, type TestObject } from './wire/wire-fixtures.ts'

/**
 * none: answers as asked; reversed: answers each piece's blocks last first, once all of them are asked; corrupt-piece-0:
 * holds piece 0 only and garbles its last block.
 */
type Misbehaviour = 'unrequested-and-duplicates' | 'short-block' | 'none' | 'reversed' | 'corrupt-piece-0'

type HandSeed = {
  port: number
  closed: Promise<void>
  /** Pieces the leecher asked of this seed. */
  asked: Set<number>
  /** Pieces the leecher said it has (bitfield or HAVE) before it asked this seed for them. */
  claimedUnasked: Set<number>
  close: () => Promise<void>
}

/** The indexes whose bits are set in a bitfield. */
function bitsSet(bits: Uint8Array): number[] {
  const out: number[] = []
  for (let i = 0; i < bits.length * 8; i++) if (((bits[i >> 3] ?? 0) & (0x80 >> (i & 7))) !== 0) out.push(i)
  return out
}

/** A seed of `obj` that answers requests by hand and misbehaves as told; `closed` resolves when a connection closes. */
async function handSeed(obj: TestObject, how: Misbehaviour): Promise<HandSeed> {
  const asked = new Set<number>()
  const claimedUnasked = new Set<number>()
  const claim = (i: number): void => { if (!asked.has(i)) claimedUnasked.add(i) }
  const pieceSize = (i: number): number => Math.min(obj.pieceLength, obj.data.length - i * obj.pieceLength)
  const sockets = new Set<net.Socket>()
  let onClosed = (): void => undefined
  const closed = new Promise<void>((resolve) => { onClosed = resolve })
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => undefined)
    socket.once('close', () => { sockets.delete(socket); onClosed() })
    let buf = Buffer.alloc(0)
    let greeted = false
    let short = how === 'short-block'
    const held = new Map<number, Buffer[]>()
    socket.on('data', (b: Buffer) => {
      buf = Buffer.concat([buf, b])
      if (!greeted) {
        if (buf.length < 68) return
        greeted = true
        buf = buf.subarray(68)
        const bits = Buffer.alloc(Math.ceil(obj.pieces / 8))
        const holds = how === 'corrupt-piece-0' ? 1 : obj.pieces
        for (let i = 0; i < holds; i++) bits[i >> 3] = (bits[i >> 3] ?? 0) | (0x80 >> (i & 7))
        // Before the unchoke, so before any request can be out: a block of piece 0 nobody asked for, of garbage.
        const unasked = how === 'unrequested-and-duplicates' ? message(7, u32(0, 0), randomBytes(16 * 1024)) : Buffer.alloc(0)
        socket.write(Buffer.concat([handshake(obj.infoHash), message(5, bits), unasked, message(1)]))
      }
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        const len = buf.readUInt32BE(0)
        const msg = buf.subarray(4, 4 + len)
        buf = buf.subarray(4 + len)
        if (msg[0] === 4) claim(msg.readUInt32BE(1))
        if (msg[0] === 5) for (const i of bitsSet(msg.subarray(1))) claim(i)
        if (msg[0] !== 6) continue
        const index = msg.readUInt32BE(1)
        const offset = msg.readUInt32BE(5)
        const length = msg.readUInt32BE(9)
        asked.add(index)
        const at = index * obj.pieceLength + offset
        let block = obj.data.subarray(at, at + length)
        if (short) { short = false; block = block.subarray(0, length - 1) }
        if (how === 'corrupt-piece-0' && offset + length === pieceSize(index)) block = randomBytes(length)
        const out = message(7, u32(index, offset), block)
        if (how === 'reversed') {
          const blocks = [...(held.get(index) ?? []), out]
          held.set(index, blocks)
          if (blocks.length * length < pieceSize(index)) continue
          held.delete(index)
          socket.write(Buffer.concat(blocks.reverse()))
          continue
        }
        socket.write(out)
        // The same block again, garbled: the engine has it already.
        if (how === 'unrequested-and-duplicates') socket.write(message(7, u32(index, offset), randomBytes(length)))
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    closed, asked, claimedUnasked,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

describe('native engine: blocks a peer sends', { timeout: 60_000 }, () => {
  let dir: string
  let obj: TestObject
  const engines: SwarmEngine[] = []
  before(async () => {
    dir = await makeTempDir('colony-block-receipt-')
    obj = await makeObject(5 * 64 * 1024 + 1000)
  })
  after(async () => {
    for (const e of engines) await e.close()
    await rm(dir, { recursive: true, force: true })
  })

  /** A leecher of `obj` that the index points at `port` (it dials it once the trackers had their chance). */
  const leech = async (port: number, fileAt?: string): Promise<{ t: EngineTorrent; file: string; engine: SwarmEngine }> => {
    const d = path.join(dir, `leech-${randomBytes(4).toString('hex')}`)
    await mkdir(d, { recursive: true })
    if (fileAt) await symlink(fileAt, path.join(d, 'obj.bin'))
    const engine = await startNativeEngine(engineOptions(dir))
    engines.push(engine)
    const t = await engine.add(obj.torrent, obj.infoHash, { dir: d, complete: false, trackers: [] })
    dial(t, port)
    return { t, file: path.join(d, 'obj.bin'), engine }
  }
  const dial = (t: EngineTorrent, port: number): void => t.addPeers?.([{ address: `127.0.0.1:${port}`, peerId: randomBytes(20).toString('hex') }])

  test('a block never requested, and a block received twice, are dropped: the download completes intact, no ban', async () => {
    const seed = await handSeed(obj, 'unrequested-and-duplicates')
    try {
      const { t, file } = await leech(seed.port)
      await whenDone(t)
      assert.ok((await readFile(file)).equals(obj.data), 'the object is intact')
      assert.equal(t.bannedCount, 0)
      assert.equal(t.status().received, obj.data.length, 'only the blocks asked for count')
    } finally { await seed.close() }
  })

  test('a block of the wrong size bans the peer and closes its connection', async () => {
    const seed = await handSeed(obj, 'short-block')
    try {
      const { t } = await leech(seed.port)
      const banned = await new Promise<{ address: string }>((resolve) => t.once('ban', resolve))
      assert.equal(banned.address, `127.0.0.1:${seed.port}`)
      assert.equal(t.bannedCount, 1)
      assert.equal(t.status().complete, false)
      await seed.closed
    } finally { await seed.close() }
  })

  test('blocks that come last first are verified from the file: the download completes intact, no ban', async () => {
    const seed = await handSeed(obj, 'reversed')
    try {
      const { t, file } = await leech(seed.port)
      // A piece that failed to verify bans the only peer: fail at once rather than wait for the suite's deadline.
      await Promise.race([whenDone(t), new Promise((_, reject) => t.once('ban', () => reject(new Error('a piece failed verification'))))])
      assert.ok((await readFile(file)).equals(obj.data), 'the object is intact')
      assert.equal(t.bannedCount, 0)
    } finally { await seed.close() }
  })

  test('pieces whose blocks went straight to the file are served from the file', async () => {
    const seed = await handSeed(obj, 'none')
    const first = await leech(seed.port)
    await whenDone(first.t)
    // The hand seed is gone: every byte the second leecher gets, the first one read from its file.
    await seed.close()
    const second = await leech(first.engine.port)
    await whenDone(second.t)
    assert.ok((await readFile(second.file)).equals(obj.data), 'the object is intact')
    assert.equal(first.t.status().uploaded, obj.data.length)
  })

  test('a piece that fails verification after its blocks went to the file is never had nor announced, and is fetched again', async () => {
    const bad = await handSeed(obj, 'corrupt-piece-0')
    const good = await handSeed(obj, 'none')
    try {
      const { t, file } = await leech(bad.port)
      await new Promise((resolve) => t.once('ban', resolve))
      assert.equal(t.status().done, 0, 'the corrupt piece is not counted')
      dial(t, good.port)
      await whenDone(t)
      assert.ok(good.asked.has(0), 'piece 0 was asked again, of the good seed')
      assert.deepEqual([...good.claimedUnasked], [], 'the leecher claimed no piece before it had it')
      assert.ok((await readFile(file)).equals(obj.data), 'the bad bytes in the file were overwritten')
    } finally { await bad.close(); await good.close() }
  })

  test('a block write that fails is the engine error SWARM_ENGINE_FAILED, and no piece is had', async () => {
    const seed = await handSeed(obj, 'none')
    try {
      // Every write to /dev/full fails with ENOSPC.
      const { t } = await leech(seed.port, '/dev/full')
      // Every block of every piece fails alike: each is an error, none may go unheard.
      const err = await new Promise<Error & { code?: string }>((resolve) => t.on('error', resolve))
      assert.equal(err.code, 'SWARM_ENGINE_FAILED')
      assert.match(err.message, /cannot write piece/)
      assert.equal(t.status().done, 0)
    } finally { await seed.close() }
  })
})
