// The native engine's uploader: peers' turns under one upload bucket, on an injected clock and timer.
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { describe, test } from 'node:test'
import type { NativePeer, UploadJob } from '../../../src/swarm/engines/native/peer.ts'
import { Uploader } from '../../../src/swarm/engines/native/uploader.ts'
import { TokenBucket } from '../../../src/swarm/token-bucket.ts'

type FakeClock = { now: number; pending: Array<{ at: number; fn: () => void }> }

/** Runs the timers due by `ms` from now, in order. */
function advance(clock: FakeClock, ms: number): void {
  const until = clock.now + ms
  for (;;) {
    clock.pending.sort((a, b) => a.at - b.at)
    const next = clock.pending[0]
    if (!next || next.at > until) break
    clock.pending.shift()
    clock.now = next.at
    next.fn()
  }
  clock.now = until
}

/** A peer with `blocks` requests of 100 bytes queued; what the uploader sends it goes to `sent` as "name:block". */
function peer(name: string, blocks: number, sent: string[]): NativePeer & { congested: boolean } {
  const queue: UploadJob[] = Array.from({ length: blocks }, (_, i) => ({ index: i, offset: 0, length: 100 }))
  const p = {
    closed: false, queue, congested: false, awaitingDrain: false, socket: new EventEmitter(),
    uploads: { serve: (_: NativePeer, job: UploadJob) => { sent.push(`${name}:${job.index}`) } },
  }
  return p as unknown as NativePeer & { congested: boolean }
}

function uploader(clock: FakeClock, burst: number): { up: Uploader; bucket: TokenBucket } {
  const bucket = new TokenBucket({ rate: 1000, burst, now: () => clock.now })
  const up = new Uploader(bucket, {
    turnBytes: 200, tickMs: 100,
    schedule: (fn, ms) => {
      const entry = { at: clock.now + ms, fn }
      clock.pending.push(entry)
      return { cancel: () => { clock.pending = clock.pending.filter((e) => e !== entry) } }
    },
  })
  return { up, bucket }
}

describe('Uploader', () => {
  test('a turn the cap cuts short resumes before the next peer: a piece\'s blocks leave together', () => {
    const clock: FakeClock = { now: 0, pending: [] }
    const sent: string[] = []
    const { up } = uploader(clock, 150)
    const [a, b, c] = [peer('a', 2, sent), peer('b', 2, sent), peer('c', 2, sent)]
    up.want(a)
    up.want(b)
    up.want(c)
    assert.deepEqual(sent, ['a:0'], 'the bucket holds one block')
    for (let i = 0; i < 10 && sent.length < 6; i++) advance(clock, 100)
    assert.deepEqual(sent, ['a:0', 'a:1', 'b:0', 'b:1', 'c:0', 'c:1'])
    up.stop()
  })

  test('peers with more queued take turns of turnBytes, round-robin', () => {
    const clock: FakeClock = { now: 0, pending: [] }
    const sent: string[] = []
    const { up, bucket } = uploader(clock, 250)
    assert.equal(bucket.tryTake(250), true, 'the bucket starts empty')
    const [a, b] = [peer('a', 4, sent), peer('b', 4, sent)]
    up.want(a)
    up.want(b)
    for (let i = 0; i < 20 && sent.length < 8; i++) advance(clock, 100)
    assert.deepEqual(sent, ['a:0', 'a:1', 'b:0', 'b:1', 'a:2', 'a:3', 'b:2', 'b:3'])
    up.stop()
  })

  test('a congested peer waits for its socket to drain while the others are served', () => {
    const clock: FakeClock = { now: 0, pending: [] }
    const sent: string[] = []
    const { up } = uploader(clock, 1000)
    const a = peer('a', 1, sent)
    const b = peer('b', 1, sent)
    a.congested = true
    up.want(a)
    up.want(b)
    assert.deepEqual(sent, ['b:0'])
    a.congested = false
    a.socket.emit('drain')
    assert.deepEqual(sent, ['b:0', 'a:0'])
    up.stop()
  })
})
