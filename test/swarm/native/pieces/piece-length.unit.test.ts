// The piece length an agent gives the torrents it builds: few pieces (an agent's CPU goes per piece as much as per
// byte), a power of two any BitTorrent client takes, and no piece so large that two per peer strain memory.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { choosePieceLength } from '../../../../src/swarm/torrent-file.ts'

const KiB = 1024
const MiB = 1024 * KiB

test('the piece length is a power of two from 16 KiB to 2 MiB, for at most 512 pieces below 1 GiB', () => {
  assert.equal(choosePieceLength(1), 16 * KiB)
  assert.equal(choosePieceLength(8 * MiB), 16 * KiB)
  assert.equal(choosePieceLength(8 * MiB + 1), 32 * KiB)
  // The bench's object: 128 MB in 256 KiB pieces (488 of them), not 976 of 128 KiB.
  assert.equal(choosePieceLength(128e6), 256 * KiB)
  assert.equal(choosePieceLength(1024 * MiB), 2 * MiB)
  // Larger objects get more pieces, never pieces over 2 MiB.
  assert.equal(choosePieceLength(2048 * MiB), 2 * MiB)
  assert.equal(choosePieceLength(64 * 1024 * MiB), 2 * MiB)
  for (let len = 1; len < 1024 * MiB; len = Math.ceil(len * 1.37)) {
    const p = choosePieceLength(len)
    assert.equal(p & (p - 1), 0, `${p} is a power of two`)
    assert.ok(Math.ceil(len / p) <= 512, `${len} bytes in ${Math.ceil(len / p)} pieces of ${p}`)
    assert.ok(p === 16 * KiB || Math.ceil(len / (p / 2)) > 512, `${len} bytes: ${p} is the smallest that fits`)
  }
})
