// The copy path's HTTP/1.1 response parser: well-formed responses parse the same whatever the read boundaries
// (every split point, and seeded random splits), and every malformed head or framing is refused with a stable code.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ResponseParser, type ResponseHead } from '../../../src/transfer/adapters/http1/response-parser.ts'
import { TRANSFER_CODES, TransferError } from '../../../src/transfer/errors.ts'

const LIMITS = { maxHeadBytes: 4096, maxHeaders: 20 }

type Parsed = { head: ResponseHead | undefined; body: Buffer; done: boolean; rest: number }

/** Feeds `wire` cut at `cuts`; `rest` is how many bytes followed the end of the response. */
function parse(wire: Buffer, cuts: number[] = [], isHead = false, close = false): Parsed {
  let head: ResponseHead | undefined
  const parts: Buffer[] = []
  const p = new ResponseParser({ onHead: (h) => { head = h }, onBody: (b, s, e) => { parts.push(Buffer.from(b.subarray(s, e))) } }, LIMITS, { isHead, label: 'GET /x' })
  let rest = 0
  const bounds = [0, ...cuts.filter((c) => c > 0 && c < wire.length).sort((a, b) => a - b), wire.length]
  for (let i = 0; i + 1 < bounds.length; i++) {
    // Each read arrives in its own buffer with unrelated bytes around it, as in a reused read buffer.
    const s = bounds[i] as number
    const e = bounds[i + 1] as number
    const buf = Buffer.concat([Buffer.from('JUNK'), wire.subarray(s, e), Buffer.from('JUNK')])
    if (p.done) { rest += e - s; continue }
    const end = p.execute(buf, 4, 4 + e - s)
    rest += 4 + e - s - end
  }
  if (close) p.finish()
  return { head, body: Buffer.concat(parts), done: p.done, rest }
}

function code(fn: () => unknown): string {
  try { fn() } catch (err) { assert.ok(err instanceof TransferError, String(err)); return err.code }
  return 'no error'
}

const body = Buffer.from('0123456789'.repeat(30))
const wellFormed: Array<{ name: string; wire: Buffer; body: Buffer; close?: boolean; keepAlive: boolean; status: number }> = [
  { name: 'Content-Length', wire: Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nETag: "a"\r\n\r\n`), body]), body, keepAlive: true, status: 200 },
  { name: 'chunked with extensions and trailers', wire: Buffer.from(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n`), body: Buffer.from('hello0123456789'), keepAlive: true, status: 200 },
  { name: 'delimited by the close', wire: Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nServer: x\r\n\r\n'), body]), body, close: true, keepAlive: false, status: 200 },
  { name: 'interim 100 then 206, Connection: close', wire: Buffer.from('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 206 Partial\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc'), body: Buffer.from('abc'), keepAlive: false, status: 206 },
  { name: 'HTTP/1.0', wire: Buffer.from('HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok'), body: Buffer.from('ok'), keepAlive: false, status: 200 },
  { name: '204 without body', wire: Buffer.from('HTTP/1.1 204 No Content\r\n\r\n'), body: Buffer.alloc(0), keepAlive: true, status: 204 },
]

for (const c of wellFormed) {
  test(`parses ${c.name} at every split point`, () => {
    for (let cut = 0; cut <= c.wire.length; cut++) {
      const r = parse(c.wire, [cut], false, c.close)
      assert.equal(r.head?.status, c.status, `cut ${cut}`)
      assert.equal(r.head?.keepAlive, c.keepAlive, `cut ${cut}`)
      assert.deepEqual(r.body, c.body, `cut ${cut}`)
      assert.equal(r.done, true, `cut ${cut}`)
      assert.equal(r.rest, 0, `cut ${cut}`)
    }
  })
}

test('parses seeded random splits of a long chunked body, and says where the response ended', () => {
  const seed = Number(process.env.SEED ?? Date.now() % 1e9)
  let x = seed
  const rand = (n: number): number => { x = (x * 1103515245 + 12345) % 2 ** 31; return x % n }
  const chunks = Array.from({ length: 40 }, (_, i) => Buffer.alloc(1 + rand(3000), i))
  const wire = Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n'), ...chunks.flatMap((c) => [Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n')]), Buffer.from('0\r\n\r\nNEXT')])
  for (let round = 0; round < 50; round++) {
    const cuts = Array.from({ length: 1 + rand(30) }, () => rand(wire.length))
    const r = parse(wire, cuts)
    assert.deepEqual(r.body, Buffer.concat(chunks), `seed ${seed} round ${round} cuts ${cuts.join(',')}`)
    assert.equal(r.rest, 4, `seed ${seed}`)
  }
})

test('HEAD: no body is read even with a Content-Length', () => {
  const r = parse(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n'), [], true)
  assert.equal(r.done, true)
  assert.equal(r.head?.framing.kind, 'none')
})

test('a repeated field keeps every value; names are case-insensitive', () => {
  const r = parse(Buffer.from('HTTP/1.1 200 OK\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 0\r\n\r\n'))
  assert.equal(r.head?.headers.get('x-a'), '1, 2')
})

const malformed: Array<[string, string, string]> = [
  ['not HTTP', 'SSH-2.0-OpenSSH\r\n\r\n', TRANSFER_CODES.BAD_RESPONSE],
  ['HTTP/2 status line', 'HTTP/2 200\r\n\r\n', TRANSFER_CODES.BAD_RESPONSE],
  ['two-digit status', 'HTTP/1.1 20 OK\r\n\r\n', TRANSFER_CODES.BAD_RESPONSE],
  ['101 switch', 'HTTP/1.1 101 Switching\r\n\r\n', TRANSFER_CODES.BAD_RESPONSE],
  ['header without colon', 'HTTP/1.1 200 OK\r\nNoColon\r\n\r\n', TRANSFER_CODES.BAD_RESPONSE],
  ['space in a field name', 'HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n', TRANSFER_CODES.BAD_RESPONSE],
  ['folded line', 'HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded\r\n\r\n', TRANSFER_CODES.BAD_RESPONSE],
  ['NUL in a value', 'HTTP/1.1 200 OK\r\nX-A: a\u0000b\r\n\r\n', TRANSFER_CODES.BAD_RESPONSE],
  ['bare CR in a value', 'HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n', TRANSFER_CODES.BAD_RESPONSE],
  ['Transfer-Encoding and Content-Length', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n', TRANSFER_CODES.BAD_RESPONSE],
  ['Transfer-Encoding gzip', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', TRANSFER_CODES.BAD_RESPONSE],
  ['negative length', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', TRANSFER_CODES.BAD_LENGTH],
  ['length list', 'HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n', TRANSFER_CODES.BAD_LENGTH],
  ['conflicting lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n', TRANSFER_CODES.BAD_LENGTH],
  ['length over 2^53', 'HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999\r\n\r\n', TRANSFER_CODES.BAD_LENGTH],
  ['chunk size not hex', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', TRANSFER_CODES.BAD_RESPONSE],
  ['huge chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n', TRANSFER_CODES.BAD_RESPONSE],
  ['chunk longer than its size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n', TRANSFER_CODES.BAD_RESPONSE],
  ['bare LF in chunk framing', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nab\r\n', TRANSFER_CODES.BAD_RESPONSE],
  ['endless chunk-size line', `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;${'x'.repeat(5000)}`, TRANSFER_CODES.BAD_RESPONSE],
  ['head over its limit', `HTTP/1.1 200 OK\r\nX-Big: ${'x'.repeat(5000)}\r\n\r\n`, TRANSFER_CODES.BAD_RESPONSE],
  ['too many fields', `HTTP/1.1 200 OK\r\n${Array.from({ length: 30 }, (_, i) => `X-${i}: 1\r\n`).join('')}\r\n`, TRANSFER_CODES.BAD_RESPONSE],
]

for (const [name, wire, expected] of malformed) {
  test(`refuses ${name} (${expected}), whole or byte by byte`, () => {
    const bytes = Buffer.from(wire, 'latin1')
    assert.equal(code(() => parse(bytes)), expected)
    assert.equal(code(() => parse(bytes, Array.from({ length: bytes.length }, (_, i) => i))), expected)
  })
}

test('a connection closed mid-head or mid-body is TRANSFER_TRUNCATED (retryable); a close-delimited body is not', () => {
  assert.equal(code(() => parse(Buffer.from('HTTP/1.1 200 OK\r\nContent-Le'), [], false, true)), TRANSFER_CODES.TRUNCATED)
  assert.equal(code(() => parse(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'), [], false, true)), TRANSFER_CODES.TRUNCATED)
  assert.equal(code(() => parse(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab'), [], false, true)), TRANSFER_CODES.TRUNCATED)
  assert.equal(code(() => parse(Buffer.from('HTTP/1.1 200 OK\r\n\r\nabc'), [], false, true)), 'no error')
})
