// Piece buffers are used again only once nothing holds them: a buffer a socket still sends is never handed out.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { PieceBufferPool } from '../../../../src/swarm/engines/native/pieces/piece-buffers.ts'
import { PieceCache } from '../../../../src/swarm/engines/native/pieces/piece-cache.ts'

test('a released buffer is taken again; one of another size is not', () => {
  const pool = new PieceBufferPool()
  const a = pool.take(1024)
  pool.release(a)
  assert.equal(pool.freeBytes, 1024)
  assert.equal(pool.take(512).length, 512)
  assert.equal(pool.take(1024), a)
  assert.equal(pool.freeBytes, 0)
})

test('a held buffer goes back to the free list only when its last hold ends', () => {
  const pool = new PieceBufferPool()
  const a = pool.take(1024)
  const endWrite = pool.hold(a.subarray(100, 200))
  const endRead = pool.hold(a)
  assert.ok(endWrite && endRead)
  pool.release(a)
  assert.notEqual(pool.take(1024), a, 'held by a write and a read: not reused')
  endRead()
  endRead()
  assert.equal(pool.freeBytes, 0, 'one hold left (ending a hold twice counts once)')
  endWrite()
  assert.equal(pool.take(1024).buffer, a.buffer, 'free once the socket is done with it')
})

test('a second release, a foreign buffer and a view are ignored; the free list is bounded', () => {
  const pool = new PieceBufferPool({ maxFreeBytes: 2048 })
  const a = pool.take(1024)
  pool.release(a)
  pool.release(a)
  assert.equal(pool.freeBytes, 1024, 'released twice, listed once')
  pool.release(Buffer.alloc(1024))
  assert.equal(pool.hold(Buffer.alloc(16)), undefined, 'nothing to hold in a buffer the pool did not make')
  const b = pool.take(1024)
  pool.release(b.subarray(0, 512))
  assert.equal(pool.freeBytes, 0, 'a view is not the buffer')
  const c = pool.take(2048)
  pool.release(b)
  pool.release(c)
  assert.equal(pool.freeBytes, 1024, 'beyond maxFreeBytes a buffer is left to the garbage collector')
})

test('the piece cache holds what it hands out and returns evicted pieces to the pool', async () => {
  const pool = new PieceBufferPool()
  const cache = new PieceCache(2048, pool)
  const p0 = pool.take(1024)
  cache.put('t', 0, p0)
  const got = await cache.get('t', 0, async () => assert.fail('a hit'))
  assert.equal(got.piece, p0)
  cache.put('t', 1, pool.take(1024))
  cache.put('t', 2, pool.take(1024))
  assert.equal(pool.freeBytes, 0, 'piece 0 was evicted but is still held by its reader')
  got.release()
  assert.equal(pool.freeBytes, 1024)
  const loaded = await cache.get('t', 3, async () => pool.take(1024))
  loaded.release()
  cache.drop('t')
  assert.equal(pool.freeBytes, 3 * 1024, 'a stopped torrent gives its pieces back')
})
