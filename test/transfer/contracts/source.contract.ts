// The Source contract: what the core relies on from every origin adapter (HTTP(S), S3, directory), registered as
// node:test tests for one implementation. sourceContract(factory) is called once per implementation by
// source.test.ts; the factory seeds the files and names them by locator.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Readable } from 'node:stream'
import type { Source } from '../../../src/transfer/core/ports.ts'
import { TRANSFER_CODES, TransferError } from '../../../src/transfer/errors.ts'

/** A Source over seeded files. */
export type SourceFixture = {
  source: Source
  /** The locator of a seeded file, by its path relative to the seeded root ("a/b.ts"). */
  locator(path: string): string
  /** The locator of the seeded root, for sources that list; undefined for sources that cannot. */
  root?: string
  close(): Promise<void>
}

export type SourceFactory = {
  name: string
  /** Seeds `files` (relative path → bytes) and returns a Source that reads them. */
  create(files: Map<string, Buffer>): Promise<SourceFixture>
}

const PLAYLIST = '#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nseg/s0.ts\n#EXT-X-ENDLIST\n'

/** Deterministic bytes (no randomness to seed): byte k of `name` is a function of k and the name's length. */
function body(name: string, size: number): Buffer {
  const out = Buffer.alloc(size)
  for (let k = 0; k < size; k++) out[k] = (k * 31 + name.length * 7) & 0xff
  return out
}

const FILES = new Map<string, Buffer>([
  ['v/index.m3u8', Buffer.from(PLAYLIST)],
  ['v/seg/s0.ts', body('s0', 70_000)],
  ['v/seg/s1.ts', body('s1.ts', 1)],
  ['v/empty.bin', Buffer.alloc(0)],
])

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk)
  return Buffer.concat(chunks)
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<TransferError> {
  try {
    await p
  } catch (err) {
    assert.ok(err instanceof TransferError, `a TransferError, got ${String(err)}`)
    assert.equal(err.code, code)
    return err
  }
  assert.fail(`expected ${code}`)
}

/** Registers the Source contract's tests for one implementation. */
export function sourceContract(factory: SourceFactory): void {
  describe(factory.name, () => {
    let fx: SourceFixture
    before(async () => { fx = await factory.create(FILES) })
    after(async () => { await fx.source.close?.(); await fx.close() })

    test('get streams a file\'s exact bytes and announces its size', async () => {
      for (const [name, bytes] of FILES) {
        const obj = await fx.source.get(fx.locator(name), {})
        assert.ok((await readAll(obj.body)).equals(bytes), name)
        if (obj.size !== undefined) assert.equal(obj.size, bytes.length, name)
      }
    })

    test('a missing file is TRANSFER_NOT_FOUND, not retryable', async () => {
      const err = await rejectsWith(fx.source.get(fx.locator('v/seg/nope.ts'), {}), TRANSFER_CODES.NOT_FOUND)
      assert.equal(err.retryable, false)
    })

    test('getText reads a playlist and names where it came from', async () => {
      const got = await fx.source.getText(fx.locator('v/index.m3u8'), { maxBytes: 1024 })
      assert.equal(got.text, PLAYLIST)
      assert.doesNotThrow(() => new URL(got.url), 'the url is the base for relative URIs')
    })

    test('getText refuses a body over maxBytes with TRANSFER_PLAYLIST_TOO_LARGE', async () => {
      await rejectsWith(fx.source.getText(fx.locator('v/seg/s0.ts'), { maxBytes: 1000 }), TRANSFER_CODES.PLAYLIST_TOO_LARGE)
    })

    test('head, when there is one, agrees with get on size and validator', async (t) => {
      if (!fx.source.head) { t.skip('no head'); return }
      const loc = fx.locator('v/seg/s0.ts')
      const head = await fx.source.head(loc, {})
      const obj = await fx.source.get(loc, {})
      obj.body.destroy()
      assert.equal(head.size, FILES.get('v/seg/s0.ts')?.length)
      assert.equal(head.etag, obj.etag)
      await rejectsWith(fx.source.head(fx.locator('v/seg/nope.ts'), {}), TRANSFER_CODES.NOT_FOUND)
    })

    test('list, when the source lists, yields every file once, readable by get, playlists as media', async (t) => {
      if (!fx.source.list || fx.root === undefined) { t.skip('does not list'); return }
      const seen = new Map<string, string>()
      for await (const ref of fx.source.list(fx.root, {})) {
        const name = [...FILES.keys()].find((n) => ref.key.endsWith(n))
        assert.ok(name, `${ref.key} is a seeded file`)
        assert.ok(!seen.has(name), `${name} listed once`)
        seen.set(name, ref.source)
        assert.equal(ref.kind, name.endsWith('.m3u8') ? 'media' : 'object')
        if (ref.size !== undefined) assert.equal(ref.size, FILES.get(name)?.length)
        const obj = await fx.source.get(ref.source, {})
        assert.ok((await readAll(obj.body)).equals(FILES.get(name) as Buffer))
      }
      assert.deepEqual([...seen.keys()].sort(), [...FILES.keys()].sort())
    })
  })
}
