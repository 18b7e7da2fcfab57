// The native engine's parser feeder: bytes arrive as views of one read buffer that the next read overwrites.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, test } from 'node:test'
import Wire from 'bittorrent-protocol'
import { MAX_MESSAGE, type PeerWire } from '../../../src/swarm/engines/native/peer.ts'
import { WireFeeder } from '../../../src/swarm/engines/native/wire/wire-feeder.ts'

function message(id: number, ...parts: Uint8Array[]): Buffer {
  const body = Buffer.concat([Buffer.from([id]), ...parts])
  const len = Buffer.alloc(4)
  len.writeUInt32BE(body.length)
  return Buffer.concat([len, body])
}

const u32 = (...ns: number[]): Buffer => {
  const b = Buffer.alloc(4 * ns.length)
  ns.forEach((n, i) => b.writeUInt32BE(n, 4 * i))
  return b
}

/** Pushes `stream` in `size`-byte reads through one scratch buffer, scribbled over after every push. */
function feed(feeder: WireFeeder, stream: Uint8Array, size: number, scratch: Uint8Array): void {
  for (let off = 0; off < stream.length; off += size) {
    const n = Math.min(size, stream.length - off)
    scratch.set(stream.subarray(off, off + n))
    feeder.push(scratch.subarray(0, n))
    scratch.fill(0xee)
  }
}

describe('WireFeeder', () => {
  for (const size of [1, 7, 13, 64, 4096]) {
    test(`messages split into ${size}-byte reads of a reused buffer parse as sent, and what the Wire keeps is a copy`, async () => {
      const wire: PeerWire = new Wire('tcpOutgoing', 0, false)
      wire.push = () => true
      const infoHash = randomBytes(20)
      const remoteId = randomBytes(20)
      const bits = Buffer.from([0b10100000, 0b00000001])
      const block = randomBytes(3000)
      const got: { handshake?: [string, string]; haves: number[]; block?: Buffer } = { haves: [] }
      wire.on('handshake', (ih: string, id: string) => { got.handshake = [ih, id] })
      wire.on('have', (i: number) => got.haves.push(i))
      const handshake = Buffer.concat([Buffer.from([19]), Buffer.from('BitTorrent protocol'), Buffer.alloc(8), infoHash, remoteId])
      const scratch = new Uint8Array(size)
      const feeder = new WireFeeder(wire, () => assert.fail('dropped a well-formed peer'))
      feed(feeder, Buffer.concat([handshake, message(5, bits), message(4, u32(9)), u32(0), message(1)]), size, scratch)
      assert.deepEqual(got.handshake, [infoHash.toString('hex'), remoteId.toString('hex')])
      assert.deepEqual(got.haves, [9])
      assert.equal(wire.peerChoking, false)
      // Like the engine, the receiver copies a block before the next read.
      wire.request(3, 16, block.length, (err, b) => { assert.ifError(err); got.block = Buffer.from(b as Uint8Array) })
      feed(feeder, message(7, u32(3, 16), block), size, scratch)
      assert.ok(got.block?.equals(block), 'the block arrives whole')
      // The bitfield is still right after every read buffer it crossed was scribbled over.
      assert.deepEqual([0, 1, 2, 15].map((i) => wire.peerPieces.get(i)), [true, false, true, true])
    })
  }

  test('blocks that span reads are completed in one reused buffer, and a bitfield the Wire keeps is never reused', async () => {
    const wire: PeerWire = new Wire('tcpOutgoing', 0, false)
    wire.push = () => true
    const handshake = Buffer.concat([Buffer.from([19]), Buffer.from('BitTorrent protocol'), Buffer.alloc(48)])
    const scratch = new Uint8Array(1000)
    const feeder = new WireFeeder(wire, () => assert.fail('dropped a well-formed peer'))
    feed(feeder, Buffer.concat([handshake, message(1)]), 1000, scratch)
    const blocks = [randomBytes(2500), randomBytes(2500), randomBytes(2500)]
    const seen: Uint8Array[] = []
    const fetch = (i: number): void => {
      wire.request(i, 0, 2500, (err, b) => {
        assert.ifError(err)
        assert.ok(Buffer.from(b as Uint8Array).equals(blocks[i] as Buffer), `block ${i} arrives whole`)
        seen.push(b as Uint8Array)
      })
      feed(feeder, message(7, u32(i, 0), blocks[i] as Buffer), 1000, scratch)
    }
    fetch(0)
    fetch(1)
    assert.equal(seen.length, 2)
    assert.equal(seen[1]?.buffer, seen[0]?.buffer, 'the second block reuses the first one\'s buffer')
    // A bitfield spanning reads fits in that buffer, and the Wire keeps it: the next block must go elsewhere.
    const bits = Buffer.alloc(1200, 0b10100000)
    feed(feeder, message(5, bits), 1000, scratch)
    fetch(2)
    assert.equal(seen.length, 3)
    assert.deepEqual([0, 1, 2, 9599].map((i) => wire.peerPieces.get(i)), [true, false, true, false])
    assert.equal(wire.peerPieces.get(8 * 1199), true)
  })

  test('connections share spare buffers: a block spanning reads on a second connection reuses the first one\'s spare', async () => {
    const handshake = Buffer.concat([Buffer.from([19]), Buffer.from('BitTorrent protocol'), Buffer.alloc(48)])
    const scratch = new Uint8Array(1000)
    const seen: Uint8Array[] = []
    for (let c = 0; c < 2; c++) {
      const wire: PeerWire = new Wire('tcpOutgoing', 0, false)
      wire.push = () => true
      const feeder = new WireFeeder(wire, () => assert.fail('dropped a well-formed peer'))
      feed(feeder, Buffer.concat([handshake, message(1)]), 1000, scratch)
      // At least Buffer.poolSize / 2: Buffer.allocUnsafe's shared slab would otherwise hand out one ArrayBuffer anyway.
      const block = randomBytes(Math.min(Buffer.poolSize, 64 * 1024))
      wire.request(0, 0, block.length, (err, b) => {
        assert.ifError(err)
        assert.ok(Buffer.from(b as Uint8Array).equals(block), `connection ${c}: the block arrives whole`)
        seen.push(b as Uint8Array)
      })
      feed(feeder, message(7, u32(0, 0), block), 1000, scratch)
    }
    assert.equal(seen.length, 2)
    assert.equal(seen[1]?.buffer, seen[0]?.buffer, 'one spare served both connections')
  })

  test('a message length beyond MAX_MESSAGE drops the connection before anything is allocated', async () => {
    const wire: PeerWire = new Wire('tcpOutgoing', 0, false)
    wire.push = () => true
    let dropped = 0
    const feeder = new WireFeeder(wire, () => { dropped++ })
    const handshake = Buffer.concat([Buffer.from([19]), Buffer.from('BitTorrent protocol'), Buffer.alloc(48)])
    feeder.push(Buffer.concat([handshake, u32(MAX_MESSAGE + 1), Buffer.from([7, 0, 0])]))
    assert.equal(dropped, 1)
  })
})
