// The native engine's own parser of the hot messages (have, request, piece, cancel): the WireFeeder's framing and
// the guard's dispatch, fed the way the engine feeds them (views of one reused read buffer, scribbled over after
// every read), split at every point and at seeded random points.
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { describe, test } from 'node:test'
import Wire from 'bittorrent-protocol'
import { MAX_MESSAGE, type PeerWire } from '../../../../src/swarm/engines/native/peer.ts'
import { WireFeeder } from '../../../../src/swarm/engines/native/wire/wire-feeder.ts'
import { guardWire, type ProtocolErrorReason } from '../../../../src/swarm/engines/native/wire/wire-guard.ts'
import { blockMessages, haveMessages, MSG_CANCEL, MSG_REQUEST, pieceHeader, type HotMessages } from '../../../../src/swarm/engines/native/wire/wire-messages.ts'
import { message, u32 } from './wire-fixtures.ts'
import { createRandom } from '../../../../src/shared/seeded-random.ts'

const SEED = Number(process.env.WIRE_SEED ?? Math.floor(Math.random() * 2 ** 31))
const PIECES = 40
const PIECE_LENGTH = 256 * 1024

/** A seeded generator, so a failing split can be replayed with WIRE_SEED. */
const rng = createRandom

type Seen = string[]

/** A block as the records show it: its length and SHA-1. */
const digest = (b: Uint8Array): string => `${b.length}:${createHash('sha1').update(b).digest('hex')}`

/** A guarded Wire past its handshake, fed by a WireFeeder, with a handler that records every hot message. */
function connection(): { feeder: WireFeeder; seen: Seen; errors: ProtocolErrorReason[]; wire: PeerWire; dropped: () => number } {
  const wire: PeerWire = new Wire('tcpOutgoing', 0, false)
  wire.push = () => true
  wire._debug = () => undefined
  const errors: ProtocolErrorReason[] = []
  let drops = 0
  const guard = guardWire(wire, (reason) => { errors.push(reason) })
  const feeder = new WireFeeder(wire, (reason) => { drops++; if (reason) errors.push(reason) })
  const handshake = Buffer.concat([Buffer.from([19]), Buffer.from('BitTorrent protocol'), Buffer.alloc(48)])
  feeder.push(handshake)
  guard.setBounds({ pieces: PIECES, pieceLength: PIECE_LENGTH })
  const seen: Seen = []
  const h: HotMessages = {
    have: (i) => seen.push(`have ${i}`),
    request: (i, o, l) => seen.push(`request ${i} ${o} ${l}`),
    cancel: (i, o, l) => seen.push(`cancel ${i} ${o} ${l}`),
    // The block is a view of a buffer the next read overwrites: what it holds now is what counts.
    piece: (i, o, b) => seen.push(`piece ${i} ${o} ${digest(b)}`),
  }
  guard.setHandler(h)
  return { feeder, seen, errors, wire, dropped: () => drops }
}

/** Pushes `stream` cut at `cuts` (sorted offsets) through one scratch buffer, scribbled over after every push. */
function feedCut(feeder: WireFeeder, stream: Buffer, cuts: number[]): void {
  const scratch = Buffer.alloc(stream.length)
  let from = 0
  for (const to of [...cuts.filter((c) => c < stream.length), stream.length]) {
    if (to <= from) continue
    stream.copy(scratch, 0, from, to)
    feeder.push(scratch.subarray(0, to - from))
    scratch.fill(0xee)
    from = to
  }
}

/** A conversation of hot and other messages, and the hot messages it must produce, in order; blocks up to `maxBlock`. */
function conversation(next: () => number, count: number, maxBlock = 131072): { stream: Buffer; expect: Seen } {
  const parts: Buffer[] = []
  const expect: Seen = []
  const int = (n: number): number => Math.floor(next() * n)
  for (let k = 0; k < count; k++) {
    const kind = int(9)
    const index = int(PIECES)
    if (kind === 0) { parts.push(haveMessages([index], 0, 1)); expect.push(`have ${index}`) }
    else if (kind === 1 || kind === 2) {
      const id = kind === 1 ? MSG_REQUEST : MSG_CANCEL
      const block = [16384, 65536, 131072][int(3)] as number
      parts.push(blockMessages(id, index, PIECE_LENGTH, block))
      for (let off = 0; off < PIECE_LENGTH; off += block) expect.push(`${id === MSG_REQUEST ? 'request' : 'cancel'} ${index} ${off} ${block}`)
    } else if (kind === 3 || kind === 4) {
      const len = 1 + int(kind === 3 ? 64 : maxBlock)
      const off = int(PIECE_LENGTH - len + 1)
      const block = randomBytes(len)
      parts.push(pieceHeader(index, off, len), block)
      expect.push(`piece ${index} ${off} ${digest(block)}`)
    } else if (kind === 5) parts.push(u32(0)) // keep-alive
    else if (kind === 6) parts.push(message(2)) // interested: the Wire's
    else if (kind === 7) parts.push(message(20, Buffer.from([3]), randomBytes(int(40)))) // an extension message: skipped
    else parts.push(message(0xff, randomBytes(int(20)))) // an unknown id: ignored (BEP 3)
  }
  return { stream: Buffer.concat(parts), expect }
}

describe(`native wire parser (WIRE_SEED=${SEED})`, () => {
  test('a conversation split at every point parses as sent', () => {
    const { stream, expect } = conversation(rng(SEED), 12)
    // Every cut of a conversation of small blocks (big ones make every point too many).
    const short = conversation(rng(SEED + 1), 16, 64)
    for (let cut = 1; cut < short.stream.length; cut++) {
      const c = connection()
      feedCut(c.feeder, short.stream, [cut])
      assert.deepEqual(c.seen, short.expect, `cut at ${cut} of ${short.stream.length} (WIRE_SEED=${SEED})`)
      assert.deepEqual(c.errors, [])
    }
    const c = connection()
    feedCut(c.feeder, stream, [])
    assert.deepEqual(c.seen, expect)
  })

  test('conversations cut at seeded random points, bytes at a time or large reads, parse as sent', () => {
    const next = rng(SEED)
    for (let round = 0; round < 20; round++) {
      const { stream, expect } = conversation(next, 30)
      const cuts: number[] = []
      const tiny = round % 4 === 0
      for (let at = 0; at < stream.length;) { at += 1 + Math.floor(next() * (tiny ? 8 : 200_000)); cuts.push(at) }
      const c = connection()
      feedCut(c.feeder, stream, cuts)
      assert.deepEqual(c.seen, expect, `round ${round} (WIRE_SEED=${SEED})`)
      assert.deepEqual(c.errors, [], `round ${round} (WIRE_SEED=${SEED})`)
      assert.equal(c.dropped(), 0)
    }
  })

  test('the interest and choke messages still reach the Wire among hot ones', () => {
    const c = connection()
    feedCut(c.feeder, Buffer.concat([message(1), haveMessages([3], 0, 1), message(2)]), [2, 7, 12])
    assert.equal(c.wire.peerChoking, false)
    assert.equal(c.wire.peerInterested, true)
    assert.deepEqual(c.seen, ['have 3'])
  })

  /**
   * `bad` after a well-formed have, cut at every point (every 1021st inside a large message's body): one error
   * `reason`, nothing after it dispatched.
   */
  const refusedAtEverySplit = (bad: Buffer, reason: ProtocolErrorReason): void => {
    const stream = Buffer.concat([haveMessages([1], 0, 1), bad, haveMessages([2], 0, 1)])
    for (let cut = 1; cut < stream.length; cut += cut > 64 && cut < stream.length - 64 ? 1021 : 1) {
      const c = connection()
      feedCut(c.feeder, stream, [cut])
      assert.deepEqual(c.seen, ['have 1'], `${bad.subarray(0, 16).toString('hex')} cut at ${cut}`)
      assert.deepEqual(c.errors, [reason], `${bad.subarray(0, 16).toString('hex')} cut at ${cut}`)
      // Nothing more is parsed on that connection.
      c.feeder.push(haveMessages([4], 0, 1))
      assert.deepEqual(c.seen, ['have 1'])
    }
  }

  test('an oversize length closes the connection at every split point, before anything is allocated for it', () => {
    refusedAtEverySplit(Buffer.concat([u32(MAX_MESSAGE + 1), Buffer.from([7, 0, 0, 0])]), 'length')
    refusedAtEverySplit(u32(0xffffffff), 'length')
  })

  test('hot messages of the wrong length, or naming what the torrent has not, close the connection', () => {
    refusedAtEverySplit(message(4, u32(PIECES)), 'index')
    refusedAtEverySplit(message(4, u32(1), Buffer.from([0])), 'length')
    refusedAtEverySplit(message(6, u32(0, 0)), 'length')
    refusedAtEverySplit(message(6, u32(0, PIECE_LENGTH - 16, 32)), 'index')
    refusedAtEverySplit(message(6, u32(0, 0, 0)), 'index')
    refusedAtEverySplit(message(8, u32(PIECES, 0, 16384)), 'index')
    refusedAtEverySplit(message(7, u32(0)), 'length')
    refusedAtEverySplit(message(7, u32(0, 0)), 'length')
    refusedAtEverySplit(message(7, u32(0, PIECE_LENGTH - 2), Buffer.alloc(3)), 'index')
    refusedAtEverySplit(message(7, u32(0, 0), Buffer.alloc(128 * 1024 + 1)), 'index')
  })

  test('ids of extensions never negotiated close the connection', () => {
    for (const id of [0x0d, 0x0e, 0x0f, 0x10, 0x11]) refusedAtEverySplit(message(id), 'message')
  })

  test('a throw out of a hot handler closes that connection as an exception', () => {
    const c = connection()
    const wire = c.wire
    const guard = guardWire(wire, (r) => { c.errors.push(r) })
    guard.setBounds({ pieces: PIECES, pieceLength: PIECE_LENGTH })
    guard.setHandler({ have: () => { throw new Error('boom') }, request: () => undefined, cancel: () => undefined, piece: () => undefined })
    c.feeder.push(haveMessages([1, 2], 0, 2))
    assert.deepEqual(c.errors, ['exception'])
    assert.equal(c.dropped(), 1)
  })
})
