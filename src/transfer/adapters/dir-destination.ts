// A local directory as destination. Every write goes to a temp file in the target's own directory and is
// renamed into place only when complete, so a reader (or a resumed run) never sees a partial file; every
// path goes through resolveInside, so no key can land outside the root.
import { createHash } from 'node:crypto'
import { closeSync, createReadStream, createWriteStream, futimesSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { copyFile, mkdir, open, rename, stat, unlink, utimes } from 'node:fs/promises'
import path from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { resolveInside } from '../../shared/safe-path.ts'
import type { Destination, PutInfo, StoredObject } from '../types.ts'
import { TransferError, TRANSFER_CODES, toTransferError } from '../errors.ts'

let tmpCounter = 0


export type DirDestinationOptions = {
  /**
   * Write small in-memory bodies with blocking calls. On a copy worker thread this is cheaper than five thread-pool
   * round trips per file (open, write, futimes, close, rename) and the thread has nothing else to block; keep it
   * off on a main thread that serves other work or on slow network filesystems. @defaultValue false
   */
  syncSmallWrites?: boolean
}

export class DirDestination implements Destination {
  readonly root: string
  readonly #dirs = new Set<string>()
  readonly #sync: boolean

  constructor(root: string, options: DirDestinationOptions = {}) {
    this.root = path.resolve(root)
    this.#sync = options.syncSmallWrites ?? false
  }

  describe(): string {
    return this.root
  }

  async #prepare(key: string): Promise<{ full: string; tmp: string }> {
    let full: string
    try { full = resolveInside(this.root, key) } catch (err) {
      throw new TransferError(TRANSFER_CODES.PATH_ESCAPE, `refused key ${JSON.stringify(key)}: ${(err as Error).message}`)
    }
    const dir = path.dirname(full)
    if (!this.#dirs.has(dir)) {
      await mkdir(dir, { recursive: true })
      this.#dirs.add(dir)
    }
    return { full, tmp: `${full}.colony-tmp-${process.pid}-${++tmpCounter}` }
  }

  async #commit(tmp: string, full: string, modified: number | undefined): Promise<void> {
    // Keeping the origin's mtime lets a later run recognise an unchanged file by size + time, as rclone does.
    if (modified !== undefined) await utimes(tmp, new Date(), new Date(modified))
    await rename(tmp, full)
  }

  async put(key: string, body: Readable, info: PutInfo = {}): Promise<StoredObject> {
    const { full, tmp } = await this.#prepare(key)
    try {
      const out = createWriteStream(tmp)
      await pipeline(body, out, info.signal ? { signal: info.signal } : {})
      const size = out.bytesWritten
      if (info.size !== undefined && size !== info.size) {
        throw new TransferError(TRANSFER_CODES.TRUNCATED, `${key}: wrote ${size} of ${info.size} bytes`, { retryable: true })
      }
      await this.#commit(tmp, full, info.modified)
      return { size, ...(info.modified !== undefined ? { modified: info.modified } : {}) }
    } catch (err) {
      await unlink(tmp).catch(() => undefined)
      throw toTransferError(err, `write ${key}`)
    }
  }

  /** Small bodies: open, one write, futimes, close, rename — no stream machinery per file. */
  async putBuffer(key: string, body: Buffer, info: PutInfo = {}): Promise<StoredObject> {
    if (this.#sync) return this.#putBufferSync(key, body, info)
    const { full, tmp } = await this.#prepare(key)
    try {
      const fh = await open(tmp, 'w')
      try {
        await fh.writeFile(body)
        if (info.modified !== undefined) await fh.utimes(new Date(), new Date(info.modified))
      } finally {
        await fh.close()
      }
      await rename(tmp, full)
      return { size: body.length, ...(info.modified !== undefined ? { modified: info.modified } : {}) }
    } catch (err) {
      await unlink(tmp).catch(() => undefined)
      throw toTransferError(err, `write ${key}`)
    }
  }

  #putBufferSync(key: string, body: Buffer, info: PutInfo): StoredObject {
    let full: string
    try { full = resolveInside(this.root, key) } catch (err) {
      throw new TransferError(TRANSFER_CODES.PATH_ESCAPE, `refused key ${JSON.stringify(key)}: ${(err as Error).message}`)
    }
    const dir = path.dirname(full)
    const tmp = `${full}.colony-tmp-${process.pid}-${++tmpCounter}`
    try {
      if (!this.#dirs.has(dir)) { mkdirSync(dir, { recursive: true }); this.#dirs.add(dir) }
      const fd = openSync(tmp, 'w')
      try {
        let off = 0
        while (off < body.length) off += writeSync(fd, body, off, body.length - off)
        if (info.modified !== undefined) futimesSync(fd, new Date(), new Date(info.modified))
      } finally {
        closeSync(fd)
      }
      renameSync(tmp, full)
      return { size: body.length, ...(info.modified !== undefined ? { modified: info.modified } : {}) }
    } catch (err) {
      try { unlinkSync(tmp) } catch { /* never created */ }
      throw toTransferError(err, `write ${key}`)
    }
  }

  /** dir → dir fast path: the kernel copies (reflink/copy_file_range where the filesystem can). */
  async putFromFile(key: string, file: string, info: PutInfo = {}): Promise<StoredObject> {
    const { full, tmp } = await this.#prepare(key)
    try {
      await copyFile(file, tmp)
      const st = await stat(tmp)
      if (info.size !== undefined && st.size !== info.size) {
        throw new TransferError(TRANSFER_CODES.CHANGED, `${file} changed while copying (${st.size} ≠ ${info.size} bytes)`, { retryable: true })
      }
      await this.#commit(tmp, full, info.modified)
      return { size: st.size, ...(info.modified !== undefined ? { modified: info.modified } : {}) }
    } catch (err) {
      await unlink(tmp).catch(() => undefined)
      throw toTransferError(err, `copy ${file} → ${key}`)
    }
  }

  async stat(key: string): Promise<StoredObject | undefined> {
    let full: string
    try { full = resolveInside(this.root, key) } catch { return undefined }
    try {
      const st = await stat(full)
      return st.isFile() ? { size: st.size, modified: st.mtimeMs } : undefined
    } catch {
      return undefined
    }
  }

  statMany(keys: string[]): Array<StoredObject | undefined> {
    return keys.map((key) => {
      try {
        const st = statSync(resolveInside(this.root, key), { throwIfNoEntry: false })
        return st?.isFile() ? { size: st.size, modified: st.mtimeMs } : undefined
      } catch {
        return undefined
      }
    })
  }

  /** MD5 of the stored file, for --checksum verification (a directory keeps no checksum of its own). */
  async checksum(key: string): Promise<string> {
    const h = createHash('md5')
    await pipeline(createReadStream(resolveInside(this.root, key)), h)
    return h.digest('hex')
  }

  /** True when nothing is stored yet: lets a first run skip per-file "already there?" checks. */
  async isEmpty(): Promise<boolean> {
    try {
      const { readdir } = await import('node:fs/promises')
      return (await readdir(this.root)).length === 0
    } catch {
      return true
    }
  }
}
