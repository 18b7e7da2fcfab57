import assert from 'node:assert/strict'
import { test } from 'node:test'
import { encodeCoalesced, encodeReplay } from '../../src/live/core/event-frames.ts'
import { LiveError, SseParser, signJwtHs256, verifyJwtHs256, type LiveEvent } from '../../src/live/index.ts'
import { parsePublishBody, parseTopic } from '../../src/live/core/publish-body.ts'
import { Sequencer } from '../../src/live/core/sequencer.ts'
import { encodeSseComment, encodeSseEvent, encodeSseRetry } from '../../src/live/core/sse-frame.ts'
import { TopicHistory } from '../../src/live/core/topic-history.ts'

test('encodeSseEvent frames fields in order, one data line per input line, blank line last', () => {
  assert.equal(encodeSseEvent({ data: 'hello' }).toString('utf8'), 'data: hello\n\n')
  assert.equal(encodeSseEvent({ event: 'like', id: 7, data: '{"likes":3}' }).toString('utf8'), 'event: like\nid: 7\ndata: {"likes":3}\n\n')
  assert.equal(encodeSseEvent({ event: 'c', id: 'x', retry: 1500, data: 'a\nb\r\nc\rd' }).toString('utf8'), 'event: c\nid: x\nretry: 1500\ndata: a\ndata: b\ndata: c\ndata: d\n\n')
  assert.equal(encodeSseEvent({ data: '' }).toString('utf8'), 'data: \n\n')
  assert.equal(encodeSseEvent({ data: 'trailing\n' }).toString('utf8'), 'data: trailing\ndata: \n\n')
  // Multi-byte text is framed as UTF-8 bytes.
  assert.deepEqual([...encodeSseEvent({ data: 'é' })], [...Buffer.from('data: \u00e9\n\n', 'utf8')])
})

test('encodeSseEvent refuses CR/LF in event and id instead of letting a publisher inject fields', () => {
  assert.throws(() => encodeSseEvent({ event: 'a\nid: 9', data: 'x' }), TypeError)
  assert.throws(() => encodeSseEvent({ event: 'a\r', data: 'x' }), TypeError)
  assert.throws(() => encodeSseEvent({ id: '1\n', data: 'x' }), TypeError)
  assert.throws(() => encodeSseEvent({ id: '1\0', data: 'x' }), TypeError)
  assert.throws(() => encodeSseEvent({ retry: -1, data: 'x' }), TypeError)
})

test('comment, retry and coalesced frames are byte-exact', () => {
  assert.equal(encodeSseComment().toString(), ':\n\n')
  assert.equal(encodeSseComment('hi\nthere').toString(), ': hi there\n\n')
  assert.equal(encodeSseRetry(3000).toString(), 'retry: 3000\n\n')
  assert.equal(encodeCoalesced('like', 37, 120).toString(), 'event: like\nid: 120\ndata: {"likes":37}\n\n')
})

test('SseParser decodes what the encoder writes, across arbitrary chunk boundaries', () => {
  const wire = Buffer.concat([encodeSseRetry(900), encodeSseEvent({ event: 'comment', id: 1, data: 'a\nb' }), encodeSseComment(), encodeSseEvent({ id: 2, data: 'plain' })]).toString()
  for (let cut = 1; cut < wire.length; cut += 3) {
    const p = new SseParser()
    const msgs = [...p.push(wire.slice(0, cut)), ...p.push(wire.slice(cut))]
    assert.deepEqual(msgs, [{ event: 'comment', data: 'a\nb', id: '1' }, { event: 'message', data: 'plain', id: '2' }])
    assert.equal(p.retry, 900)
    assert.equal(p.lastEventId, '2')
  }
})

const ev = (id: number, type = 'comment', data = '{}'): LiveEvent => ({ topic: 't', id, type, data, ts: 0 })

test('TopicHistory replays after an id, and answers reset when the gap is older than the ring', () => {
  const h = new TopicHistory(3)
  for (let i = 1; i <= 5; i++) h.push(ev(i))
  assert.deepEqual(h.since(3), { kind: 'events', events: [ev(4), ev(5)] })
  assert.deepEqual(h.since(2), { kind: 'events', events: [ev(3), ev(4), ev(5)] })
  assert.deepEqual(h.since(5), { kind: 'events', events: [] })
  assert.deepEqual(h.since(1), { kind: 'reset', latestId: 5 })
  assert.deepEqual(h.since(9), { kind: 'reset', latestId: 5 }, 'an id from the future (another epoch) resets')
  h.push(ev(9))
  assert.deepEqual(h.since(4), { kind: 'reset', latestId: 9 }, 'a gap in ids restarts the contiguous window')
  assert.deepEqual(h.since(8), { kind: 'events', events: [ev(9)] })
})

test('Sequencer numbers per topic, drops duplicate origins and routes by watcher', () => {
  const s = new Sequencer({ historySize: 10 })
  const a = s.publish('t', [{ type: 'comment', data: '1' }, { type: 'comment', data: '2', origin: 'dcA:x:1' }])
  assert.deepEqual(a.map((e) => e.id), [1, 2])
  assert.deepEqual(s.publish('t', [{ type: 'comment', data: '2', origin: 'dcA:x:1' }]), [], 'a duplicate origin is dropped')
  assert.deepEqual(s.publish('u', [{ type: 'x', data: '0' }]).map((e) => e.id), [1], 'ids are per topic')
  s.watch('t', 'w1')
  s.setCounts('w1', [['t', 4]])
  s.watch('t', 'w2')
  s.setCounts('w2', [['t', 3]])
  assert.equal(s.viewerCount('t'), 7)
  s.dropNode('w1')
  assert.deepEqual([...s.watchers('t')], ['w2'])
  assert.equal(s.viewerCount('t'), 3)
  assert.deepEqual(s.replay('t', 1), { kind: 'events', events: [a[1]] })
})

test('replay coalesces likes into one frame carrying the last id, comments stay individual and in order', () => {
  const events = [ev(1, 'like'), ev(2, 'comment', '{"t":"a"}'), ev(3, 'like', '{"count":5}'), ev(4, 'comment', '{"t":"b"}'), ev(5, 'like')]
  const text = Buffer.concat(encodeReplay(events, new Map([['like', 250]]))).toString()
  assert.equal(text, 'event: comment\nid: 2\ndata: {"t":"a"}\n\nevent: comment\nid: 4\ndata: {"t":"b"}\n\nevent: like\nid: 5\ndata: {"likes":7}\n\n')
})

test('publish bodies: single, batch and array forms; malformed and reserved types refused', () => {
  assert.deepEqual(parsePublishBody(Buffer.from('{"type":"like","data":{"a":1}}')), [{ type: 'like', data: '{"a":1}' }])
  assert.deepEqual(parsePublishBody(Buffer.from('{"events":[{"type":"a","data":1},{"type":"b"}]}')), [{ type: 'a', data: '1' }, { type: 'b', data: 'null' }])
  assert.deepEqual(parsePublishBody(Buffer.from('[{"type":"a","data":"x\\ny"}]')), [{ type: 'a', data: '"x\\ny"' }], 'data stays one line')
  for (const bad of ['nope', '{"data":1}', '{"type":"a\\nb"}', '{"type":"reset"}', '[]', '{"type":"' + 'x'.repeat(65) + '"}']) {
    assert.throws(() => parsePublishBody(Buffer.from(bad)), (e: unknown) => e instanceof LiveError && e.code === 'LIVE_BAD_EVENT', bad)
  }
  assert.throws(() => parsePublishBody(Buffer.from('[{"type":"a"},{"type":"a"}]'), { maxEvents: 1 }), LiveError)
  assert.throws(() => parsePublishBody(Buffer.from('{"type":"a"}'), { forwarded: true }), LiveError, 'forwarded events need an origin')
  assert.equal(parseTopic('room%2D1'), 'room-1')
  assert.throws(() => parseTopic('a%2Fb'), LiveError)
  assert.throws(() => parseTopic('%0a'), LiveError)
})

test('HS256 JWT: valid, tampered, expired, wrong alg, missing exp', () => {
  const key = 'k3y'
  const exp = Math.floor(Date.now() / 1000) + 60
  const good = signJwtHs256({ sub: 'likes-backend', exp, topics: ['room-*'] }, key)
  assert.equal(verifyJwtHs256(good, key).sub, 'likes-backend')
  assert.throws(() => verifyJwtHs256(good, 'other'), /signature/)
  const [h, , s] = good.split('.')
  const forged = `${h ?? ''}.${Buffer.from(JSON.stringify({ sub: 'x', exp })).toString('base64url')}.${s ?? ''}`
  assert.throws(() => verifyJwtHs256(forged, key), /signature/)
  assert.throws(() => verifyJwtHs256(signJwtHs256({ exp: 1 }, key), key), /expired/)
  assert.throws(() => verifyJwtHs256(signJwtHs256({ sub: 'x' }, key), key), /exp/)
  const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ exp })).toString('base64url')}.`
  assert.throws(() => verifyJwtHs256(none, key), /HS256/)
})
