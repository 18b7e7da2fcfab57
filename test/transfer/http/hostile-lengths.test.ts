// Lengths from the network are checked before use: an origin announcing a fractional, exponent or absurd
// Content-Length, and an S3-compatible store listing a negative object size, give TRANSFER_BAD_LENGTH (not retried)
// for that file or class; nothing is written and the process goes on. Real sockets: a raw TCP origin (node:http
// would refuse to send such headers) and a node:http server answering as an S3 store.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import net from 'node:net'
import { readdir, rm } from 'node:fs/promises'
import { HttpSource } from '../../../src/transfer/adapters/http-source.ts'
import { makeTempDir } from '../../../support/services.ts'
import { copyFile } from '../../../src/transfer/core/copy-file.ts'
import { crawlPrefix } from '../../../src/transfer/core/plan.ts'
import { DirDestination } from '../../../src/transfer/adapters/dir-destination.ts'
import { SourceRouter } from '../../../src/transfer/adapters/create.ts'
import { TRANSFER_CODES } from '../../../src/transfer/errors.ts'

/** Answers every request with `Content-Length: <the request path without its slash>` and a 12-byte body. */
async function rawOrigin(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = net.createServer((socket) => {
    socket.on('error', () => {})
    socket.once('data', (req) => {
      const path = /^[A-Z]+ \/(\S*)/.exec(req.toString('latin1'))?.[1] ?? ''
      socket.end(`HTTP/1.1 200 OK\r\nContent-Length: ${decodeURIComponent(path)}\r\nConnection: close\r\n\r\nhello world!`)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => { server.close(() => resolve()) }) }
}

test('a malformed or absurd Content-Length fails that file with TRANSFER_BAD_LENGTH, not retried; nothing written', async (t) => {
  const origin = await rawOrigin()
  const root = await makeTempDir('colony-lengths-')
  const source = new HttpSource({ connections: 4 })
  t.after(async () => { await source.close(); await origin.close(); await rm(root, { recursive: true, force: true }) })
  const destination = new DirDestination(root)
  for (const bad of ['1.5', '1e3', '99999999999999999999999', '9007199254740992', '-5', '0x10']) {
    const ref = { source: `${origin.url}/${encodeURIComponent(bad)}`, key: `f/${bad.length}.ts`, kind: 'segment' as const }
    const outcome = await copyFile(ref, { source, destination, checkExisting: false })
    assert.equal(outcome.ok, false, bad)
    if (outcome.ok) continue
    assert.equal(outcome.code, TRANSFER_CODES.BAD_LENGTH, `${bad}: ${outcome.message}`)
    assert.equal(outcome.retryable, false, bad)
    await assert.rejects(source.getText(ref.source, { maxBytes: 1000 }), { code: TRANSFER_CODES.BAD_LENGTH }, bad)
    await assert.rejects(source.head(ref.source), { code: TRANSFER_CODES.BAD_LENGTH }, bad)
  }
  assert.deepEqual(await readdir(root), [], 'nothing written')
  // A well-formed length still copies.
  const ok = await copyFile({ source: `${origin.url}/12`, key: 'f/ok.ts', kind: 'segment' }, { source, destination, checkExisting: false })
  assert.equal(ok.ok, true)
})

test('an S3 store listing a negative or fractional object size: the prefix class reports TRANSFER_BAD_LENGTH', async (t) => {
  let size = '-5'
  const store = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/xml')
    res.end(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p/</Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated><Contents><Key>p/a.ts</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified><ETag>"abc"</ETag><Size>${size}</Size><StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>`)
  })
  await new Promise<void>((resolve) => store.listen(0, '127.0.0.1', resolve))
  const { port } = store.address() as net.AddressInfo
  const router = new SourceRouter({ s3: { endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'k', secretAccessKey: 's' } } })
  t.after(async () => { await router.close(); await new Promise<void>((resolve) => { store.close(() => resolve()) }) })
  for (const bad of ['-5', '1.5']) {
    size = bad
    const crawl = await crawlPrefix({ id: 's3', source: 's3://b/p/' }, router, {})
    assert.deepEqual(crawl.files, [], bad)
    assert.equal(crawl.problems[0]?.code, TRANSFER_CODES.BAD_LENGTH, `${bad}: ${JSON.stringify(crawl.problems)}`)
  }
  size = '7'
  const fine = await crawlPrefix({ id: 's3', source: 's3://b/p/' }, router, {})
  assert.deepEqual(fine.files.map((f) => [f.key, f.size]), [['p/a.ts', 7]])
})
