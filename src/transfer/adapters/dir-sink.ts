// One file of a directory destination written with blocking calls (copy worker threads): a temp file next to the
// target, created with O_EXCL|O_NOFOLLOW, written chunk by chunk as the body arrives, then given the origin's mtime,
// closed and renamed into place, only when exactly the announced bytes are there. A short, long or failed body,
// or a process killed mid-way, leaves nothing at the final name (a temp name is never taken for a stored file).
import { closeSync, futimesSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import type { BodySink } from '../core/body-reader.ts'
import type { PutInfo, StoredObject } from '../core/ports.ts'
import { TransferError, TRANSFER_CODES, toTransferError } from '../errors.ts'
import { CREATE_NEW } from './no-follow.ts'

export class DirSink implements BodySink {
  readonly #key: string
  readonly #full: string
  readonly #tmp: string
  readonly #info: PutInfo
  #fd: number | undefined
  #size = 0

  constructor(key: string, full: string, tmp: string, info: PutInfo) {
    this.#key = key
    this.#full = full
    this.#tmp = tmp
    this.#info = info
    try { this.#fd = openSync(tmp, CREATE_NEW, 0o666) } catch (err) { throw toTransferError(err, `write ${key}`) }
  }

  write(chunk: Buffer): void {
    const fd = this.#fd
    if (fd === undefined) throw new TransferError(TRANSFER_CODES.INTERNAL, `write ${this.#key}: the file is closed`)
    try {
      let off = 0
      while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off)
    } catch (err) { throw toTransferError(err, `write ${this.#key}`) }
    this.#size += chunk.length
  }

  commit(): StoredObject {
    const { size, modified } = this.#info
    if (size !== undefined && this.#size !== size) {
      throw new TransferError(TRANSFER_CODES.TRUNCATED, `${this.#key}: wrote ${this.#size} of ${size} bytes`, { retryable: true })
    }
    const fd = this.#fd
    if (fd === undefined) throw new TransferError(TRANSFER_CODES.INTERNAL, `write ${this.#key}: the file is closed`)
    try {
      // Keeping the origin's mtime lets a later run recognise an unchanged file by size + time, as rclone does.
      if (modified !== undefined) futimesSync(fd, new Date(), new Date(modified))
      this.#fd = undefined
      closeSync(fd)
      renameSync(this.#tmp, this.#full)
    } catch (err) { throw toTransferError(err, `write ${this.#key}`) }
    return { size: this.#size, ...(modified !== undefined ? { modified } : {}) }
  }

  abort(): void {
    if (this.#fd !== undefined) try { closeSync(this.#fd) } catch { /* already closed */ }
    this.#fd = undefined
    try { unlinkSync(this.#tmp) } catch { /* never created, or renamed */ }
  }
}
