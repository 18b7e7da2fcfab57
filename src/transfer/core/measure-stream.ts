// Counts (and optionally hashes) bytes as they stream through, and fails the stream BEFORE its end is
// signalled when the count disagrees with the announced size: a destination then never commits a truncated
// body. Hashing here is free of a second read; the multipart ETag is computed the way S3 computes it.
import { createHash, type Hash } from 'node:crypto'
import { Transform, type TransformCallback } from 'node:stream'
import { TransferError, TRANSFER_CODES } from '../errors.ts'

export type MeasureOptions = {
  /** Bytes the source announced (Content-Length); a mismatch is TRANSFER_TRUNCATED (retryable). @defaultValue unknown */
  expectedSize?: number
  /** Compute the MD5 of the body. @defaultValue false */
  md5?: boolean
  /** Also compute S3's multipart ETag for this part size. @defaultValue none */
  partSize?: number
  /** Label for error messages. @defaultValue 'body' */
  label?: string
}

export class MeasureStream extends Transform {
  bytes = 0
  #md5: Hash | undefined
  #part: Hash | undefined
  #partBytes = 0
  readonly #partDigests: Buffer[] = []
  readonly #options: MeasureOptions
  md5Hex: string | undefined
  multipartEtag: string | undefined

  constructor(options: MeasureOptions = {}) {
    super()
    this.#options = options
    if (options.md5) this.#md5 = createHash('md5')
    if (options.partSize) this.#part = createHash('md5')
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length
    this.#md5?.update(chunk)
    if (this.#part && this.#options.partSize) {
      let off = 0
      while (off < chunk.length) {
        const room = this.#options.partSize - this.#partBytes
        const piece = chunk.subarray(off, off + room)
        this.#part.update(piece)
        this.#partBytes += piece.length
        off += piece.length
        if (this.#partBytes === this.#options.partSize) {
          this.#partDigests.push(this.#part.digest())
          this.#part = createHash('md5')
          this.#partBytes = 0
        }
      }
    }
    const expected = this.#options.expectedSize
    if (expected !== undefined && this.bytes > expected) {
      cb(new TransferError(TRANSFER_CODES.TRUNCATED, `${this.#options.label ?? 'body'}: more bytes than the announced ${expected}`, { retryable: true }))
      return
    }
    cb(null, chunk)
  }

  override _flush(cb: TransformCallback): void {
    const expected = this.#options.expectedSize
    if (expected !== undefined && this.bytes !== expected) {
      cb(new TransferError(TRANSFER_CODES.TRUNCATED, `${this.#options.label ?? 'body'}: got ${this.bytes} of ${expected} bytes`, { retryable: true }))
      return
    }
    if (this.#md5) this.md5Hex = this.#md5.digest('hex')
    if (this.#part) {
      if (this.#partBytes > 0) this.#partDigests.push(this.#part.digest())
      const all = createHash('md5')
      for (const d of this.#partDigests) all.update(d)
      this.multipartEtag = `${all.digest('hex')}-${this.#partDigests.length}`
    }
    cb()
  }
}
