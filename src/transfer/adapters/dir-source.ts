// A local directory as origin: `file://` URLs (or absolute paths), keys relative to the directory root.
import { createReadStream } from 'node:fs'
import { readdir, readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { FileRef } from '../core/types.ts'
import type { Source, SourceObject } from '../core/ports.ts'
import { TransferError, TRANSFER_CODES, toTransferError } from '../errors.ts'
import { keyForPath } from '../core/keys.ts'

export type DirSourceOptions = {
  /** Dropped from listed keys (after they are made relative to the listed directory). @defaultValue '' */
  stripPrefix?: string
}

export function toFilePath(locator: string): string {
  return locator.startsWith('file:') ? fileURLToPath(locator) : path.resolve(locator)
}

export class DirSource implements Source {
  readonly #strip: string | undefined

  constructor(options: DirSourceOptions = {}) {
    this.#strip = options.stripPrefix
  }

  async get(locator: string): Promise<SourceObject & { path: string; modified: number }> {
    const file = toFilePath(locator)
    try {
      const st = await stat(file)
      if (!st.isFile()) throw new TransferError(TRANSFER_CODES.NOT_FOUND, `${file} is not a file`)
      return { body: createReadStream(file), size: st.size, etag: `${Math.floor(st.mtimeMs)}-${st.size}`, modified: st.mtimeMs, path: file }
    } catch (err) {
      throw toTransferError(err, file)
    }
  }

  async head(locator: string): Promise<{ size: number; etag: string; modified: number }> {
    const file = toFilePath(locator)
    try {
      const st = await stat(file)
      return { size: st.size, etag: `${Math.floor(st.mtimeMs)}-${st.size}`, modified: st.mtimeMs }
    } catch (err) {
      throw toTransferError(err, file)
    }
  }

  async getText(locator: string, options: { maxBytes: number }): Promise<{ text: string; url: string }> {
    const file = toFilePath(locator)
    try {
      const st = await stat(file)
      if (st.size > options.maxBytes) {
        throw new TransferError(TRANSFER_CODES.PLAYLIST_TOO_LARGE, `${file} is ${st.size} bytes, over the ${options.maxBytes}-byte playlist limit`)
      }
      return { text: await readFile(file, 'utf8'), url: pathToFileURL(file).href }
    } catch (err) {
      throw toTransferError(err, file)
    }
  }

  /** Every regular file under the directory (symlinks are not followed: they could leave the tree). */
  async *list(locator: string): AsyncIterable<FileRef> {
    const root = toFilePath(locator)
    let entries
    try {
      entries = await readdir(root, { recursive: true, withFileTypes: true })
    } catch (err) {
      throw toTransferError(err, root)
    }
    for (const e of entries) {
      if (!e.isFile()) continue
      const abs = path.join(e.parentPath, e.name)
      const rel = path.relative(root, abs).split(path.sep).join('/')
      if (rel.includes('.colony-tmp-')) continue
      yield { source: pathToFileURL(abs).href, key: keyForPath(rel, this.#strip), kind: /\.m3u8?$/i.test(e.name) ? 'media' : 'object' }
    }
  }
}
