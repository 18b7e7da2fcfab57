// The Destination contract: what the core relies on from every destination adapter (directory, S3), registered as
// node:test tests for one implementation. destinationContract(factory) is called once per implementation by
// destination.test.ts; the factory gives an empty destination and a way to read back what it stored.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import type { Destination } from '../../../src/transfer/core/ports.ts'
import { TRANSFER_CODES, TransferError } from '../../../src/transfer/errors.ts'

export type DestinationFixture = {
  /** An empty destination. */
  destination: Destination
  /** The bytes stored under a key, read without the adapter; undefined when nothing is there. */
  read(key: string): Promise<Buffer | undefined>
  close(): Promise<void>
}

export type DestinationFactory = { name: string; create(): Promise<DestinationFixture> }

function bytes(size: number, salt: number): Buffer {
  const out = Buffer.alloc(size)
  for (let k = 0; k < size; k++) out[k] = (k * 13 + salt) & 0xff
  return out
}

/** A body in chunks of at most 16 KiB, as a socket delivers it. */
function streamOf(buf: Buffer): Readable {
  const chunks: Buffer[] = []
  for (let off = 0; off < buf.length; off += 16 * 1024) chunks.push(buf.subarray(off, off + 16 * 1024))
  return Readable.from(chunks)
}

/** A body that delivers `first` and then fails, as a connection reset does. */
function failingAfter(first: Buffer): Readable {
  let sent = false
  return new Readable({
    read() {
      if (!sent) { sent = true; this.push(first); return }
      this.destroy(Object.assign(new Error('socket reset'), { code: 'ECONNRESET' }))
    },
  })
}

/** Registers the Destination contract's tests for one implementation. */
export function destinationContract(factory: DestinationFactory): void {
  describe(factory.name, () => {
    let fx: DestinationFixture
    before(async () => { fx = await factory.create() })
    after(async () => { await fx.destination.close?.(); await fx.close() })

    test('is empty before the first write, and describes itself', async () => {
      assert.ok(fx.destination.describe().length > 0)
      if (fx.destination.isEmpty) assert.equal(await fx.destination.isEmpty(), true)
      assert.equal(await fx.destination.stat('never/written.ts'), undefined)
    })

    test('put streams a body under its key; stat and the store give it back', async () => {
      const data = bytes(100_000, 1)
      const stored = await fx.destination.put('a/b/put.ts', streamOf(data), { size: data.length, contentType: 'video/mp2t' })
      assert.equal(stored.size, data.length)
      assert.equal((await fx.destination.stat('a/b/put.ts'))?.size, data.length)
      assert.ok((await fx.read('a/b/put.ts'))?.equals(data))
      if (fx.destination.isEmpty) assert.equal(await fx.destination.isEmpty(), false)
    })

    test('put stores a body of unannounced length whole', async () => {
      const data = bytes(40_000, 2)
      await fx.destination.put('a/unknown-length.ts', streamOf(data), {})
      assert.equal((await fx.destination.stat('a/unknown-length.ts'))?.size, data.length)
      assert.ok((await fx.read('a/unknown-length.ts'))?.equals(data))
    })

    test('putBuffer, when there is one, writes a small body in one call', async (t) => {
      if (!fx.destination.putBuffer) { t.skip('no putBuffer'); return }
      const data = bytes(3000, 3)
      const md5 = createHash('md5').update(data).digest('hex')
      const stored = await fx.destination.putBuffer('small/s.ts', data, { size: data.length, md5 })
      assert.equal(stored.size, data.length)
      if (stored.etag) assert.equal(stored.etag, md5, 'a single-part ETag is the MD5')
      assert.ok((await fx.read('small/s.ts'))?.equals(data))
    })

    test('writing a key again replaces what was there', async () => {
      await fx.destination.put('again.ts', streamOf(bytes(5000, 4)), { size: 5000 })
      const second = bytes(7000, 5)
      await fx.destination.put('again.ts', streamOf(second), { size: second.length })
      assert.equal((await fx.destination.stat('again.ts'))?.size, second.length)
      assert.ok((await fx.read('again.ts'))?.equals(second))
    })

    test('a body that fails mid-way rejects and leaves nothing under its key', async () => {
      // As copyFile passes it: a signal that aborts when the body fails (an SDK may not watch the stream's errors).
      const body = failingAfter(bytes(20_000, 6))
      const local = new AbortController()
      body.on('error', (err) => local.abort(err))
      await assert.rejects(fx.destination.put('broken/b.ts', body, { size: 50_000, signal: local.signal }))
      assert.equal(await fx.destination.stat('broken/b.ts'), undefined)
      assert.equal(await fx.read('broken/b.ts'), undefined)
    })

    test('a key that climbs out of the root is refused with TRANSFER_PATH_ESCAPE', async () => {
      for (const write of [
        () => fx.destination.put('../escape.ts', streamOf(bytes(10, 7)), { size: 10 }),
        ...(fx.destination.putBuffer ? [() => (fx.destination.putBuffer as NonNullable<Destination['putBuffer']>)('a/../../escape.ts', bytes(10, 7), { size: 10 })] : []),
      ]) {
        await assert.rejects(write(), (err: unknown) => err instanceof TransferError && err.code === TRANSFER_CODES.PATH_ESCAPE)
      }
    })

    test('the optional lookups (statMany, list, checksum) agree with stat', async () => {
      const data = bytes(12_345, 8)
      await fx.destination.put('look/up.ts', streamOf(data), { size: data.length })
      if (fx.destination.statMany) {
        const [there, absent] = fx.destination.statMany(['look/up.ts', 'look/absent.ts'])
        assert.equal(there?.size, data.length)
        assert.equal(absent, undefined)
      }
      if (fx.destination.list) {
        const listed = new Map<string, number>()
        for await (const o of fx.destination.list()) listed.set(o.key, o.size)
        assert.equal(listed.get('look/up.ts'), data.length)
      }
      if (fx.destination.checksum) assert.equal(await fx.destination.checksum('look/up.ts'), createHash('md5').update(data).digest('hex'))
    })
  })
}
