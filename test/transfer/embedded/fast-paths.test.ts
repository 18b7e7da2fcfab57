// The copy fast paths: a directory written with blocking calls from a worker (bodies streamed to the temp file),
// and the hand-signed PutObject for S3-compatible endpoints. Real filesystem, real s3rver.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, createHmac, createSecretKey, type Hash, type Hmac } from 'node:crypto'
import { readdir, readFile, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { SignatureV4 } from '@smithy/signature-v4'
import { encodeS3Path, signPut } from '../../../src/transfer/adapters/s3-put.ts'
import { makeTempDir, startS3rver } from '../../../support/services.ts'
import { copyFile } from '../../../src/transfer/core/copy-file.ts'
import { DirDestination } from '../../../src/transfer/adapters/dir-destination.ts'
import { S3Destination } from '../../../src/transfer/adapters/s3-destination.ts'
import { TRANSFER_CODES } from '../../../src/transfer/errors.ts'
import { type Source, type SourceObject } from '../../../src/transfer/core/ports.ts'
import { createRandom } from '../../../src/shared/seeded-random.ts'

/** Body bytes from a fixed-seed PRNG: every run writes the same bodies. */
const random = createRandom(17)
function randomBytes(n: number): Buffer {
  const b = Buffer.alloc(n)
  for (let k = 0; k < n; k++) b[k] = Math.floor(random() * 256)
  return b
}

/** A body that yields `chunks` then, optionally, fails or just ends (short of what was announced). */
function body(chunks: Buffer[], fail?: Error): Readable {
  return Readable.from((async function* () {
    for (const c of chunks) yield c
    if (fail) throw fail
  })())
}

async function filesUnder(dir: string): Promise<string[]> {
  const all = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])
  return all.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort()
}

test('directory, blocking writes: a streamed body lands whole with its mtime; a short or failing body leaves nothing', async (t) => {
  const root = await makeTempDir()
  t.after(() => rm(root, { recursive: true, force: true }))
  const dest = new DirDestination(root, { syncSmallWrites: true })
  const parts = [randomBytes(70_000), randomBytes(1), randomBytes(200_000)]
  const whole = Buffer.concat(parts)
  const modified = Date.parse('2024-05-01T10:00:00Z')
  const stored = await dest.put('a/b/seg.ts', body(parts), { size: whole.length, modified })
  assert.equal(stored.size, whole.length)
  assert.deepEqual(await readFile(path.join(root, 'a/b/seg.ts')), whole)
  assert.equal((await stat(path.join(root, 'a/b/seg.ts'))).mtimeMs, modified)

  await assert.rejects(dest.put('a/b/short.ts', body([randomBytes(1000)]), { size: 5000 }), (err: { code?: string; retryable?: boolean }) => {
    assert.equal(err.code, TRANSFER_CODES.TRUNCATED)
    assert.equal(err.retryable, true)
    return true
  })
  const reset = Object.assign(new Error('socket reset'), { code: 'ECONNRESET' })
  await assert.rejects(dest.put('a/b/reset.ts', body([randomBytes(100_000)], reset), { size: 300_000 }), { code: TRANSFER_CODES.CONNECTION })
  const aborted = new AbortController()
  const stalled = new Readable({ read() { /* never ends */ } })
  stalled.push(randomBytes(10))
  const pending = dest.put('a/b/aborted.ts', stalled, { size: 100, signal: aborted.signal })
  aborted.abort()
  await assert.rejects(pending)
  // Only the complete file: no partial file at a final name, no temp file left behind.
  assert.deepEqual(await filesUnder(root), ['a/b/seg.ts'])
  await assert.rejects(dest.put('../escape.ts', body([Buffer.from('x')]), { size: 1 }), { code: TRANSFER_CODES.PATH_ESCAPE })
})

test('copyFile to a worker-style directory: small bodies in one write, big ones streamed, both byte-identical', async (t) => {
  const root = await makeTempDir()
  t.after(() => rm(root, { recursive: true, force: true }))
  const dest = new DirDestination(root, { syncSmallWrites: true })
  const files = new Map([['small.ts', randomBytes(10_000)], ['big.ts', randomBytes(3 * 1024 * 1024 + 7)]])
  const source: Source = {
    get: async (locator): Promise<SourceObject> => {
      const data = files.get(locator) as Buffer
      // Delivered in 64 KiB chunks, as a socket would.
      const chunks = Array.from({ length: Math.ceil(data.length / 65536) }, (_, i) => data.subarray(i * 65536, (i + 1) * 65536))
      return { body: body(chunks), size: data.length }
    },
    getText: () => Promise.reject(new Error('unused')),
  }
  for (const [name, data] of files) {
    const out = await copyFile({ source: name, key: `v/${name}`, kind: 'segment' }, { source, destination: dest, checksum: true, checkExisting: false })
    assert.equal(out.ok, true, JSON.stringify(out))
    if (out.ok) assert.equal(out.md5, createHash('md5').update(data).digest('hex'))
    assert.deepEqual(await readFile(path.join(root, 'v', name)), data)
  }
  assert.deepEqual(await filesUnder(root), ['v/big.ts', 'v/small.ts'])
})

test('copyFile into a directory sink: a short, long, failing or aborted body leaves nothing; one that fits lands', async (t) => {
  const root = await makeTempDir()
  t.after(() => rm(root, { recursive: true, force: true }))
  const dest = new DirDestination(root, { syncSmallWrites: true })
  const data = randomBytes(150_000)
  const halves = [data.subarray(0, 70_000), data.subarray(70_000)]
  const stalled = (): Readable => { const r = new Readable({ read() { /* never ends */ } }); r.push(halves[0]); return r }
  const cases: Array<{ name: string; obj: () => SourceObject; code: string; signal?: AbortSignal }> = [
    { name: 'short', obj: () => ({ body: body([halves[0] as Buffer]), size: data.length }), code: TRANSFER_CODES.TRUNCATED },
    { name: 'long', obj: () => ({ body: body([...halves, Buffer.from('x')]), size: data.length }), code: TRANSFER_CODES.TRUNCATED },
    { name: 'reset', obj: () => ({ body: body([halves[0] as Buffer], Object.assign(new Error('reset'), { code: 'ECONNRESET' })), size: data.length }), code: TRANSFER_CODES.CONNECTION },
    { name: 'aborted', obj: () => ({ body: stalled(), size: data.length }), code: TRANSFER_CODES.ABORTED, signal: AbortSignal.timeout(50) },
  ]
  for (const c of cases) {
    const source: Source = { get: async () => c.obj(), getText: () => Promise.reject(new Error('unused')) }
    const out = await copyFile({ source: c.name, key: `v/${c.name}.ts`, kind: 'segment' }, { source, destination: dest, checkExisting: false, ...(c.signal ? { signal: c.signal } : {}) })
    assert.equal(out.ok, false, c.name)
    if (!out.ok && c.name !== 'aborted') assert.equal(out.code, c.code, `${c.name}: ${out.message}`)
  }
  assert.deepEqual(await filesUnder(root), [], 'no file and no temp file after failed bodies')
  const source: Source = { get: async () => ({ body: body(halves), size: data.length, modified: Date.parse('2024-05-01T10:00:00Z') }), getText: () => Promise.reject(new Error('unused')) }
  const out = await copyFile({ source: 'ok', key: 'v/ok.ts', kind: 'segment' }, { source, destination: dest, checkExisting: false, checksum: true })
  assert.equal(out.ok, true, JSON.stringify(out))
  if (out.ok) assert.equal(out.md5, createHash('md5').update(data).digest('hex'))
  assert.deepEqual(await readFile(path.join(root, 'v/ok.ts')), data)
  assert.equal((await stat(path.join(root, 'v/ok.ts'))).mtimeMs, Date.parse('2024-05-01T10:00:00Z'))
  assert.deepEqual(await filesUnder(root), ['v/ok.ts'])
})

test('S3 lean PutObject: keys with spaces, unicode and reserved characters, content type, metadata, ETag; bad credentials refused', async (t) => {
  const s3 = await startS3rver(['lean'])
  t.after(() => s3.stop())
  const dest = new S3Destination('s3://lean/pre fix', { endpoint: s3.url, region: 'us-east-1', credentials: s3.credentials })
  t.after(() => dest.close())
  const sdk = new S3Client({ endpoint: s3.url, region: 'us-east-1', forcePathStyle: true, credentials: s3.credentials })
  t.after(() => sdk.destroy())
  // (keys go through toSafeKey, which percent-decodes: %41 is stored as A)
  for (const key of ['vod/a b/seg 1.ts', 'vod/é/ü+!(x)*\'.ts', 'vod/%41/~tilde=1&y.m3u8']) {
    const data = randomBytes(20_000)
    const md5 = createHash('md5').update(data).digest('hex')
    const stored = await dest.putBuffer(key, data, { md5, contentType: 'video/mp2t', sourceEtag: '"abc-123"' })
    assert.equal(stored.etag, md5, key)
    const got = await sdk.send(new GetObjectCommand({ Bucket: 'lean', Key: dest.objectKey(key) }))
    assert.deepEqual(Buffer.from(await got.Body?.transformToByteArray() ?? []), data, key)
    assert.equal(got.ContentType, 'video/mp2t')
    assert.equal(got.Metadata?.['colony-source-etag'], '"abc-123"')
  }
  assert.equal(encodeS3Path("a b/é+!*'()"), 'a%20b/%C3%A9%2B%21%2A%27%28%29')

  // (s3rver does not check Content-MD5; copyFile compares the returned ETag, the MD5 of what was stored, with its own.)
  const data = randomBytes(1000)
  // s3rver does not check SigV4 signatures (the signer is checked against the SDK's below), but it knows its keys.
  const wrong = new S3Destination('s3://lean/x', { endpoint: s3.url, region: 'us-east-1', credentials: { accessKeyId: 'NOBODY', secretAccessKey: 'wrong' } })
  t.after(() => wrong.close())
  await assert.rejects(wrong.putBuffer('a.ts', data, {}), { code: TRANSFER_CODES.S3_ACCESS_DENIED })
})

/** node:crypto behind the SDK signer's hash interface. */
type SourceData = string | ArrayBuffer | ArrayBufferView
const bytes = (d: SourceData): string | Uint8Array => typeof d === 'string' ? d : d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
class NodeSha256 {
  readonly #h: Hash | Hmac
  constructor(secret?: SourceData) { this.#h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret)) }
  update(data: SourceData): void { this.#h.update(bytes(data)) }
  digest(): Promise<Uint8Array> { return Promise.resolve(this.#h.digest()) }
}

test('S3 lean PutObject: the SigV4 Authorization header equals the AWS SDK signer\'s for the same request', async () => {
  const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'token/with+chars=' }
  const sdk = new SignatureV4({ service: 's3', region: 'eu-west-3', credentials, sha256: NodeSha256, uriEscapePath: false, applyChecksum: false })
  for (const key of ['vod/a b/seg 1.ts', "vod/é/ü+!(x)*'.ts", 'plain.m3u8']) {
    const path = `/base/bucket/${encodeS3Path(key)}`
    const headers: Record<string, string> = {
      'content-length': '1234', 'content-type': 'video/mp2t', host: 's3.example.net:9000',
      'content-md5': 'XrY7u+Ae7tCTyyK7j1rNww==', 'x-amz-meta-colony-source-etag': '"abc  -123"',
    }
    signPut({ path, headers, amzDate: '20240102T030405Z', region: 'eu-west-3', credentials })
    const expected = await sdk.sign({
      method: 'PUT', protocol: 'http:', hostname: 's3.example.net', port: 9000, path, query: {},
      headers: Object.fromEntries(Object.entries(headers).filter(([k]) => k !== 'authorization')),
    }, { signingDate: new Date('2024-01-02T03:04:05Z') })
    assert.equal(headers.authorization, expected.headers.authorization, key)
    // The putter signs with the day's derived key cached as a KeyObject: the same signature.
    const derived = ['20240102', 'eu-west-3', 's3', 'aws4_request'].reduce<Buffer>((k, part) => createHmac('sha256', k).update(part).digest(), Buffer.from(`AWS4${credentials.secretAccessKey}`))
    const cached = { ...headers }
    delete cached.authorization
    signPut({ path, headers: cached, amzDate: '20240102T030405Z', region: 'eu-west-3', credentials, signingKey: () => createSecretKey(derived) })
    assert.equal(cached.authorization, expected.headers.authorization, `${key} (cached KeyObject)`)
  }
})
