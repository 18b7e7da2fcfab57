import assert from 'node:assert/strict'
import { test } from 'node:test'
import { completeFramesEnd, createScanResult, readUint, scanFrames } from '../../../src/live/bench/frame-scanner.ts'
import { bucketOf, bucketValue, createHistogram, mergeInto, quantile, recordValue } from '../../../src/live/bench/histogram.ts'

function scan(text: string): ReturnType<typeof createScanResult> {
  const out = createScanResult()
  const buf = Buffer.from(text)
  scanFrames(buf.subarray(0, completeFramesEnd(buf)), 0, out)
  return { ...out, stampList: out.stampList.slice(0, out.stamps) }
}

test('nchan frames: a hello comment, then id + data lines; the embedded send time is read', () => {
  const r = scan(': hi\n\nid: 1795448301:0\ndata: {"type":"comment","data":{"bt":123456,"s":1}}\n\nid: 1795448301:1\ndata: {"type":"comment","data":{"bt":123999,"s":2}}\n\n')
  assert.equal(r.events, 2)
  assert.equal(r.plain, 2)
  assert.equal(r.likes, 0)
  assert.deepEqual(r.stampList, [123456, 123999])
})

test('colony frames in chunked encoding: event line before the id, a coalesced like frame counts its likes', () => {
  const body = 'event: comment\nid: 7\ndata: {"bt":5000,"s":3}\n\n'
  const likes = 'event: like\nid: 9\ndata: {"likes":37}\n\n'
  const text = `${body.length.toString(16)}\r\n${body}\r\n${likes.length.toString(16)}\r\n${likes}\r\n`
  const r = scan(text)
  assert.equal(r.events, 2)
  assert.equal(r.plain, 1)
  assert.equal(r.likes, 37)
  assert.deepEqual(r.stampList, [5000])
})

test('heartbeats and retry frames are not events; the unfinished frame is left for the next read', () => {
  const buf = Buffer.from('retry: 2000\n\n:\n\nid: 1\ndata: {"bt":1}\n\nid: 2\ndata: {"b')
  const end = completeFramesEnd(buf)
  assert.equal(buf.subarray(end).toString(), 'id: 2\ndata: {"b')
  const out = createScanResult()
  scanFrames(buf.subarray(0, end), 0, out)
  assert.equal(out.events, 1)
  assert.equal(completeFramesEnd(Buffer.from('id: 3\ndata: x\n')), 0)
})

test('readUint skips spaces and stops at the first non-digit', () => {
  const b = Buffer.from('"likes": 42}')
  assert.equal(readUint(b, 8, b.length), 42)
  assert.equal(readUint(Buffer.from('x'), 0, 1), -1)
})

test('histogram: buckets within 3%, quantiles, merge by addition', () => {
  for (const v of [1, 63, 64, 100, 999, 12_345, 250_000, 3_000_000]) {
    const mid = bucketValue(bucketOf(v))
    assert.ok(Math.abs(mid - v) / v <= 0.035, `${v} → ${mid}`)
  }
  const a = createHistogram()
  const b = createHistogram()
  for (let i = 1; i <= 90; i++) recordValue(a, 1000)
  for (let i = 1; i <= 10; i++) recordValue(b, 100_000)
  mergeInto(a, b)
  assert.ok(Math.abs(quantile(a, 0.5) - 1000) < 40)
  assert.ok(Math.abs(quantile(a, 0.95) - 100_000) < 3500)
  assert.ok(Number.isNaN(quantile(createHistogram(), 0.5)))
})
