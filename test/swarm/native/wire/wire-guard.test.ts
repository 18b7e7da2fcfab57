// Hostile bytes against the native engine's BitTorrent listener, one attack per test: each must close that one
// connection (counted by reason), never the process, and the engine must go on serving the next peer.
import assert from 'node:assert/strict'
import { DiffieHellman } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { after, before, describe, test } from 'node:test'
import type { SwarmEngine } from '../../../../src/swarm/engines/engine.ts'
import { checkExtendedHandshake } from '../../../../src/swarm/engines/native/wire/bencode-check.ts'
import type { PeerDropReason } from '../../../../src/swarm/engines/native/peer-limits.ts'
import type { ProtocolErrorReason } from '../../../../src/swarm/engines/native/wire/wire-guard.ts'
import { makeTempDir } from '../../../../support/services.ts'
import { closedWithin, extended, handshake, makeObject, message, msePeer, rawPeer, startSeed, u32, type RawPeer, type TestObject } from './wire-fixtures.ts'

const HANDSHAKE_BYTES = 68

describe('native engine: hostile peer bytes', { timeout: 60_000 }, () => {
  let dir: string
  let obj: TestObject
  let engine: SwarmEngine
  const errors: ProtocolErrorReason[] = []
  const drops: PeerDropReason[] = []

  before(async () => {
    dir = await makeTempDir('colony-wire-guard-')
    // 5 pieces of 64 KiB and a short last one: a bitfield of one byte, three spare bits.
    obj = await makeObject(5 * 64 * 1024 + 1000)
    ;({ engine } = await startSeed(dir, obj, {
      peerEvents: { protocolError: (r) => errors.push(r), dropped: (r) => drops.push(r) },
      peerLimits: { encryptedPerSecond: 1000 },
    }))
  })
  after(async () => {
    await engine.close()
    await rm(dir, { recursive: true, force: true })
  })

  /** A peer past the handshake: it got ours and the seed's bitfield. */
  const greeted = async (): Promise<RawPeer> => {
    const p = await rawPeer(engine.port)
    p.send(handshake(obj.infoHash))
    await p.waitBytes(HANDSHAKE_BYTES + 6)
    return p
  }

  /** Sends `bytes` after the handshake; the connection must close, counted once as `reason`. */
  const expectClosed = async (bytes: Buffer, reason: ProtocolErrorReason): Promise<void> => {
    const before = errors.length
    const p = await greeted()
    p.send(bytes)
    await closedWithin(p, 3000, `connection after ${bytes.subarray(0, 24).toString('hex')}`)
    assert.deepEqual(errors.slice(before), [reason])
  }

  /** The engine still answers a well-behaved peer with its handshake and whole bitfield. */
  const stillServes = async (): Promise<void> => {
    const p = await greeted()
    const got = p.received()
    assert.equal(got.subarray(28, 48).toString('hex'), obj.infoHash)
    assert.deepEqual([...got.subarray(HANDSHAKE_BYTES, HANDSHAKE_BYTES + 6)], [0, 0, 0, 2, 5, 0b11111100])
    p.close()
  }

  test('an extended handshake whose "m" holds a dict with a toString key closes that connection, not the process', async () => {
    await expectClosed(extended(0, 'd1:md4:ut_xd8:toStringi1eeee'), 'extended')
    await stillServes()
  })

  test('an MSE public key the Diffie-Hellman step rejects (all zeros) closes that connection, not the process', async () => {
    const before = errors.length
    const p = await rawPeer(engine.port)
    p.send(Buffer.alloc(96))
    await closedWithin(p, 3000)
    assert.deepEqual(errors.slice(before), ['exception'])
    await stillServes()
  })

  test('__proto__, constructor and toString keys reach no object: a well-formed handshake stays, nothing is polluted', async () => {
    const p = await greeted()
    p.send(extended(0, 'd1:md9:__proto__i1e11:constructori2e8:toStringi3ee9:__proto__d8:toStringi1eee'))
    p.send(message(2))
    // The seed answers "interested" with an unchoke: the connection outlived the handshake.
    await p.waitBytes(HANDSHAKE_BYTES + 6 + 5)
    assert.equal(p.isClosed(), false)
    assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'toString'), true)
    assert.equal(({} as Record<string, unknown>).m, undefined)
    assert.equal(typeof ({}).toString, 'function')
    p.close()
  })

  test('length prefixes of 2–4 GB (negative as signed) close the connection instead of reading as keep-alives', async () => {
    await expectClosed(u32(0x80000000), 'length')
    await expectClosed(u32(0xffffffff), 'length')
    await expectClosed(u32(MAX_PLUS), 'length')
  })

  test('indexes, offsets and lengths outside the torrent close the connection', async () => {
    await expectClosed(message(4, u32(obj.pieces)), 'index')
    await expectClosed(message(4, u32(0xffffffff)), 'index')
    await expectClosed(message(6, u32(0, 0xfffffff0, 16384)), 'index')
    await expectClosed(message(6, u32(0, 0, 0x80000000)), 'index')
    await expectClosed(message(6, u32(1, obj.pieceLength - 100, 16384)), 'index')
    await expectClosed(message(7, u32(0xfffffffe, 0), Buffer.alloc(16)), 'index')
    await expectClosed(message(8, u32(obj.pieces + 7, 0, 16384)), 'index')
    await stillServes()
  })

  test('bitfields of the wrong size or with spare bits set, and messages of the wrong length, close the connection', async () => {
    await expectClosed(message(5, Buffer.alloc(2)), 'bitfield')
    await expectClosed(message(5, Buffer.alloc(64 * 1024, 0xff)), 'bitfield')
    await expectClosed(message(5, Buffer.from([0b11111101])), 'bitfield')
    await expectClosed(message(2, Buffer.alloc(3)), 'length')
    await expectClosed(message(6, u32(0, 0)), 'length')
    await expectClosed(message(0x0e), 'message')
    await stillServes()
  })

  test('a public key repeated after the MSE handshake started costs one Diffie-Hellman secret, not one per 95 bytes', async (t) => {
    // Every Wire's Diffie-Hellman object shares this prototype: count the secrets the engine computes.
    const proto = DiffieHellman.prototype as { computeSecret: (...args: unknown[]) => unknown }
    const computeSecret = proto.computeSecret
    let secrets = 0
    proto.computeSecret = function counted(this: unknown, ...args: unknown[]) { secrets++; return computeSecret.apply(this, args) }
    t.after(() => { proto.computeSecret = computeSecret })
    const p = await rawPeer(engine.port)
    // 1 + 95 bytes is one public key; the Wire parsed every further 95 bytes as another one.
    p.send(Buffer.concat([Buffer.from([1]), Buffer.alloc(95 * 2000, 7)]))
    await p.waitBytes(96)
    // 190 KB where the sync pattern should come within 512 + 20 bytes: the engine ends the connection once it has
    // read them, and has computed what it will ever compute for it.
    await closedWithin(p, 5000, 'the connection repeating its public key')
    assert.equal(secrets, 1, `the engine computed ${secrets} Diffie-Hellman secrets for one connection`)
    await stillServes()
  })

  test('a well-behaved encrypted (MSE/PE) peer still completes its handshake and gets the bytes it asks for', async () => {
    const before = errors.length
    const { wire, socket } = await msePeer(engine.port, obj.infoHash)
    const block = await new Promise<Uint8Array>((resolve, reject) => {
      wire.once('unchoke', () => wire.request(1, 0, 16384, (err, b) => (err || !b ? reject(err ?? new Error('no block')) : resolve(b))))
      wire.interested()
    })
    assert.ok(Buffer.from(block).equals(obj.data.subarray(obj.pieceLength, obj.pieceLength + 16384)), 'the block decrypts to the object\'s bytes')
    assert.deepEqual(errors.slice(before), [])
    socket.destroy()
  })

  test('hostile bytes end connections as protocol errors, never as dropped peers', () => {
    assert.deepEqual(drops, [])
  })
})

const MAX_PLUS = 1024 * 1024 + 65

describe('extended handshake check', () => {
  test('accepts real handshakes and refuses malformed ones without decoding them', () => {
    const ok = ['de', 'd1:md11:ut_metadatai3e6:ut_pexi1ee1:pi6881e1:v14:Transmission 4e', 'd1:md4:ut_xi-1eee', 'd1:ali1ei2eee']
    for (const s of ok) assert.equal(checkExtendedHandshake(Buffer.from(s)), undefined, s)
    const bad = ['', 'le', 'i1e', 'd1:md4:ut_xd8:toStringi1eeee', 'd1:md4:ut_x3:abcee', 'd1:m', 'd1:md1:aee', 'd1:mde', 'dex', 'd3:abc-1:e', 'di1ei1ee',
      'd1:a999999999:xe', `d1:a${'l'.repeat(40)}${'e'.repeat(40)}e`, 'd1:ai-e', 'd1:aie', 'd1:ai123456789012345678901ee']
    for (const s of bad) assert.notEqual(checkExtendedHandshake(Buffer.from(s)), undefined, s)
  })
})
