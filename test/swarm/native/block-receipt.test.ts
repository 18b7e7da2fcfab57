// What a downloading engine does with the blocks a peer sends it: a block it never asked for, or one it has
// already, is dropped (a cancel may cross a block on the wire) and the download completes from the blocks it did
// ask for; a block of the wrong size bans the peer. The peer is a raw TCP server speaking the wire by hand.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rm } from 'node:fs/promises'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { EngineTorrent, SwarmEngine } from '../../../src/swarm/engines/engine.ts'
import { startNativeEngine } from '../../../src/swarm/engines/native/engine.ts'
import { makeTempDir } from '../../../support/services.ts'
import { engineOptions, handshake, makeObject, message, u32, whenDone, type TestObject } from './wire-fixtures.ts'

type Misbehaviour = 'unrequested-and-duplicates' | 'short-block'

/** A seed of `obj` that answers requests by hand and misbehaves as told; `closed` resolves when a connection closes. */
async function handSeed(obj: TestObject, how: Misbehaviour): Promise<{ port: number; closed: Promise<void>; close: () => Promise<void> }> {
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
    socket.on('data', (b: Buffer) => {
      buf = Buffer.concat([buf, b])
      if (!greeted) {
        if (buf.length < 68) return
        greeted = true
        buf = buf.subarray(68)
        const bits = Buffer.alloc(Math.ceil(obj.pieces / 8))
        for (let i = 0; i < obj.pieces; i++) bits[i >> 3] = (bits[i >> 3] ?? 0) | (0x80 >> (i & 7))
        // Before the unchoke, so before any request can be out: a block of piece 0 nobody asked for, of garbage.
        const unasked = how === 'unrequested-and-duplicates' ? message(7, u32(0, 0), randomBytes(16 * 1024)) : Buffer.alloc(0)
        socket.write(Buffer.concat([handshake(obj.infoHash), message(5, bits), unasked, message(1)]))
      }
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        const len = buf.readUInt32BE(0)
        const msg = buf.subarray(4, 4 + len)
        buf = buf.subarray(4 + len)
        if (msg[0] !== 6) continue
        const index = msg.readUInt32BE(1)
        const offset = msg.readUInt32BE(5)
        const length = msg.readUInt32BE(9)
        const at = index * obj.pieceLength + offset
        let block = obj.data.subarray(at, at + length)
        if (short) { short = false; block = block.subarray(0, length - 1) }
        socket.write(message(7, u32(index, offset), block))
        // The same block again, garbled: the engine has it already.
        if (how === 'unrequested-and-duplicates') socket.write(message(7, u32(index, offset), randomBytes(length)))
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    closed,
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
  const leech = async (port: number): Promise<{ t: EngineTorrent; file: string }> => {
    const d = path.join(dir, `leech-${randomBytes(4).toString('hex')}`)
    await mkdir(d, { recursive: true })
    const engine = await startNativeEngine(engineOptions(dir))
    engines.push(engine)
    const t = await engine.add(obj.torrent, obj.infoHash, { dir: d, complete: false, trackers: [] })
    t.addPeers?.([{ address: `127.0.0.1:${port}`, peerId: randomBytes(20).toString('hex') }])
    return { t, file: path.join(d, 'obj.bin') }
  }

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
})
