// A local directory as destination. Every write goes to a temp file in the target's own directory and is
// renamed into place only when complete, so a reader (or a resumed run) never sees a partial file; every key goes
// through toSafeKey (joined to the root as resolveInside would), so no key can land outside the root, and no symlink
// inside the root is ever written through or read through (no-follow.ts).
import { createHash, randomBytes } from 'node:crypto'
import { constants, lstatSync, mkdirSync } from 'node:fs'
import { copyFile, lstat, mkdir, open, rename, unlink, utimes } from 'node:fs/promises'
import path from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { resolveInside, toSafeKey } from '../../shared/safe-path.ts'
import type { Destination, PutInfo, StoredObject } from '../core/ports.ts'
import { TransferError, TRANSFER_CODES, toTransferError } from '../errors.ts'
import { listDirTree } from './dir-list.ts'
import { assertNotSymlink, CREATE_NEW, READ_NO_FOLLOW, symlinkError, walkDirs } from './no-follow.ts'
import type { BodySink } from '../core/body-reader.ts'
import { DirSink } from './dir-sink.ts'

// Temp names are unique per process and thread (a random tag beside the pid, as pids repeat across restarts in
// containers) and are created with O_EXCL, so a stale temp file or a planted link at the name is never reused.
const TMP_TAG = `${process.pid}-${randomBytes(4).toString('hex')}`
let tmpCounter = 0

export type DirDestinationOptions = {
  /**
   * Write with blocking calls, bodies as their chunks arrive. On a copy worker thread this is cheaper than a
   * thread-pool round trip per fs call (open, write per chunk, futimes, close, rename) and the thread has nothing
   * else to block; keep it off on a thread that serves latency-sensitive work or on slow network filesystems.
   * @defaultValue false
   */
  syncSmallWrites?: boolean
}

export class DirDestination implements Destination {
  readonly root: string
  /** Directories known to exist with no symlink between the root and them (each walked once). */
  readonly #dirs = new Set<string>()
  /**
   * Directories this destination created (mkdir made the directory itself): nothing was in them but what this
   * destination wrote, so a file's own name there needs no symlink check (one lstat per file fewer).
   */
  readonly #made = new Set<string>()
  readonly #sync: boolean

  constructor(root: string, options: DirDestinationOptions = {}) {
    this.root = path.resolve(root)
    this.#sync = options.syncSmallWrites ?? false
  }

  describe(): string {
    return this.root
  }

  /**
   * resolveInside(root, key) without its two path.resolve calls per file (the largest allocation of a small copy):
   * toSafeKey's key has no empty, '.' or '..' segment, no backslash and no leading '/', so joined to the resolved
   * root with one '/' it is already the normal path inside the root. Other separators (Windows) take resolveInside.
   */
  #resolve(key: string): string {
    if (path.sep !== '/') return resolveInside(this.root, key)
    const safe = toSafeKey(key)
    return this.root === '/' ? `/${safe}` : `${this.root}/${safe}`
  }

  /**
   * The final path (always inside the root) and a temp name next to it; `newDir` when its directory is not known to
   * exist yet. Refuses a key whose directories or own name hold a symlink (the directories are walked once each).
   */
  #paths(key: string): { full: string; tmp: string; newDir?: string } {
    let full: string
    try { full = this.#resolve(key) } catch (err) {
      throw new TransferError(TRANSFER_CODES.PATH_ESCAPE, `refused key ${JSON.stringify(key)}: ${(err as Error).message}`)
    }
    const dir = path.dirname(full)
    let newDir: string | undefined
    if (!this.#dirs.has(dir)) {
      const walk = walkDirs(this.root, dir)
      if (typeof walk === 'object') throw symlinkError(key, walk.symlink)
      if (walk === 'ok') this.#dirs.add(dir)
      else newDir = dir
    }
    if (!this.#made.has(dir)) assertNotSymlink(full, key)
    const tmp = `${full}.colony-tmp-${TMP_TAG}-${++tmpCounter}`
    return newDir ? { full, tmp, newDir } : { full, tmp }
  }

  async #prepare(key: string): Promise<{ full: string; tmp: string }> {
    const p = this.#paths(key)
    if (p.newDir) this.#madeDir(p.newDir, await mkdir(p.newDir, { recursive: true }))
    return p
  }

  /**
   * Records a directory mkdir (recursive) made sure of: `created` is the first directory it created, or undefined
   * when `dir` already existed (made by someone else meanwhile: its files' names keep their symlink check).
   */
  #madeDir(dir: string, created: string | undefined): void {
    this.#dirs.add(dir)
    if (created !== undefined) this.#made.add(dir)
  }

  /** The path of a stored file for a lookup, or undefined when the key is unsafe or a directory on the way is missing or a symlink. */
  #lookup(key: string): string | undefined {
    let full: string
    try { full = this.#resolve(key) } catch { return undefined }
    const dir = path.dirname(full)
    if (!this.#dirs.has(dir)) {
      if (walkDirs(this.root, dir) !== 'ok') return undefined
      this.#dirs.add(dir)
    }
    return full
  }

  async #commit(tmp: string, full: string, modified: number | undefined): Promise<void> {
    // Keeping the origin's mtime lets a later run recognise an unchanged file by size + time, as rclone does.
    if (modified !== undefined) await utimes(tmp, new Date(), new Date(modified))
    await rename(tmp, full)
  }

  async put(key: string, body: Readable, info: PutInfo = {}): Promise<StoredObject> {
    if (this.#sync) return this.#putStreamSync(key, body, info)
    const { full, tmp } = await this.#prepare(key)
    try {
      const out = (await open(tmp, CREATE_NEW, 0o666)).createWriteStream()
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
      const fh = await open(tmp, CREATE_NEW, 0o666)
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

  /** #prepare with a blocking mkdir (copy worker threads). */
  #prepareSync(key: string): { full: string; tmp: string } {
    const p = this.#paths(key)
    if (p.newDir) {
      let created: string | undefined
      try { created = mkdirSync(p.newDir, { recursive: true }) } catch (err) { throw toTransferError(err, `write ${key}`) }
      this.#madeDir(p.newDir, created)
    }
    return p
  }

  #putBufferSync(key: string, body: Buffer, info: PutInfo): StoredObject {
    const sink = this.#openSinkSync(key, info)
    try {
      sink.write(body)
      return sink.commit()
    } catch (err) {
      sink.abort()
      throw err
    }
  }

  /**
   * A body written chunk by chunk with blocking calls (copy worker threads only; undefined elsewhere): see DirSink.
   */
  openSink(key: string, info: PutInfo = {}): BodySink | undefined {
    return this.#sync ? this.#openSinkSync(key, info) : undefined
  }

  #openSinkSync(key: string, info: PutInfo): DirSink {
    const { full, tmp } = this.#prepareSync(key)
    return new DirSink(key, full, tmp, info)
  }

  /** Streams a body through a DirSink, one blocking write per chunk as it arrives. */
  async #putStreamSync(key: string, body: Readable, info: PutInfo): Promise<StoredObject> {
    const sink = this.#openSinkSync(key, info)
    const onAbort = (): void => { body.destroy(info.signal?.reason instanceof Error ? info.signal.reason : new TransferError(TRANSFER_CODES.ABORTED, `write ${key} aborted`)) }
    info.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      if (info.signal?.aborted) onAbort()
      for await (const chunk of body as AsyncIterable<Buffer>) sink.write(chunk)
      return sink.commit()
    } catch (err) {
      body.destroy()
      sink.abort()
      throw toTransferError(err, `write ${key}`)
    } finally {
      info.signal?.removeEventListener('abort', onAbort)
    }
  }

  /** dir → dir fast path: the kernel copies (reflink/copy_file_range where the filesystem can). */
  async putFromFile(key: string, file: string, info: PutInfo = {}): Promise<StoredObject> {
    const { full, tmp } = await this.#prepare(key)
    try {
      await copyFile(file, tmp, constants.COPYFILE_EXCL)
      const st = await lstat(tmp)
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

  /** What is stored at a key; a symlink (at the name or on the way) is never followed and counts as nothing stored. */
  async stat(key: string): Promise<StoredObject | undefined> {
    const full = this.#lookup(key)
    if (!full) return undefined
    try {
      // Blocking mode (a copy thread): no thread-pool round trip, and no error object for the usual "not there yet".
      const st = this.#sync ? lstatSync(full, { throwIfNoEntry: false }) : await lstat(full)
      return st?.isFile() ? { size: st.size, modified: st.mtimeMs } : undefined
    } catch {
      return undefined
    }
  }

  statMany(keys: string[]): Array<StoredObject | undefined> {
    return keys.map((key) => {
      const full = this.#lookup(key)
      if (!full) return undefined
      try {
        const st = lstatSync(full, { throwIfNoEntry: false })
        return st?.isFile() ? { size: st.size, modified: st.mtimeMs } : undefined
      } catch {
        return undefined
      }
    })
  }

  /** MD5 of the stored file, for --checksum verification (a directory keeps no checksum of its own). */
  async checksum(key: string): Promise<string> {
    const full = this.#resolve(key)
    const walk = walkDirs(this.root, path.dirname(full))
    if (typeof walk === 'object') throw symlinkError(key, walk.symlink)
    let fh
    try { fh = await open(full, READ_NO_FOLLOW) } catch (err) {
      if ((err as { code?: string }).code === 'ELOOP') throw symlinkError(key, full)
      throw err
    }
    const h = createHash('md5')
    await pipeline(fh.createReadStream(), h)
    return h.digest('hex')
  }

  /** Files under a key prefix, streamed (symlinks neither followed nor listed). */
  listPrefix(prefix: string): AsyncIterable<{ key: string; size: number }> {
    return listDirTree(this.root, prefix)
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
