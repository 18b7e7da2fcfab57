// Whole-body buffers are reused by size class, a thread keeps a bounded amount idle, and only its own buffers
// go back.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { giveBodyBuffer, takeBodyBuffer } from '../../../src/transfer/core/body-buffers.ts'

test('a buffer given back carries the next body of its size class; other sizes get their own', () => {
  const a = takeBodyBuffer(100_000)
  assert.equal(a.length, 128 * 1024)
  giveBodyBuffer(a)
  const b = takeBodyBuffer(70_000)
  assert.equal(b.buffer, a.buffer)
  const c = takeBodyBuffer(70_000)
  assert.notEqual(c.buffer, a.buffer)
  assert.equal(takeBodyBuffer(1).length, 64 * 1024)
  assert.equal(takeBodyBuffer(4 * 1024 * 1024).length, 4 * 1024 * 1024)
})

test('idle buffers are capped, and a view or an odd-sized buffer is never kept', () => {
  const taken = Array.from({ length: 12 }, () => takeBodyBuffer(4 * 1024 * 1024))
  for (const t of taken) giveBodyBuffer(t)
  // 32 MiB idle at most: 8 of the 12 came back, the 9th take allocates.
  const again = Array.from({ length: 9 }, () => takeBodyBuffer(4 * 1024 * 1024))
  assert.equal(new Set(again.slice(0, 8).map((b) => b.buffer)).size, 8)
  assert.ok(!taken.some((t) => t.buffer === again[8]?.buffer))
  const odd = Buffer.alloc(100_000)
  giveBodyBuffer(odd)
  assert.notEqual(takeBodyBuffer(100_000).buffer, odd.buffer)
})
