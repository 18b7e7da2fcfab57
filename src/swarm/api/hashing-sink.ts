import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { Writable } from 'node:stream'

/** A writable that stores what it is given in `file` and hashes it on the way (SHA-256, hex once finished). */
export function createHashingFileSink(file: string): { sink: Writable; sha256: () => string } {
  const hash = createHash('sha256')
  const out = createWriteStream(file)
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      hash.update(chunk)
      if (out.write(chunk)) cb()
      else out.once('drain', () => cb())
    },
    final(cb) { out.end(cb) },
    destroy(err, cb) { out.destroy(); cb(err) },
  })
  return { sink, sha256: () => hash.digest('hex') }
}
