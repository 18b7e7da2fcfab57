// The per-class file list, stored once in Redis as deflated chunks so batches can name files by index.
// Front coding (shared prefix with the previous line) + raw deflate brings an HLS file list
// (long URLs differing in a few digits) down to a few bytes per file — this is most of the per-file
// Redis memory, so the encoding matters.
import { deflateRawSync, inflateRawSync } from 'node:zlib'
import type { FileKind, FileRef } from '../../core/types.ts'
import { DistributedTransferError } from '../errors.ts'

const KIND_CODES: Record<FileKind, string> = {
  master: 'M', media: 'm', segment: 's', init: 'i', key: 'k', part: 'p', 'session-data': 'd', object: 'o',
}
const KIND_BY_CODE = new Map(Object.entries(KIND_CODES).map(([k, v]) => [v, k as FileKind]))

function sharedPrefix(a: string, b: string): number {
  const max = Math.min(a.length, b.length, 35 * 36)
  let i = 0
  while (i < max && a.charCodeAt(i) === b.charCodeAt(i)) i++
  return i
}

const NEEDS_ESCAPE = /[\\\t\n]/
function escapeField(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s
  return s.replace(/[\\\t\n]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : '\\n'))
}
function unescapeField(s: string): string {
  return s.includes('\\') ? s.replace(/\\(.)/g, (_m, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : c)) : s
}

/** Key order: what a crawler appends is sorted first, so neighbours share long prefixes (indices follow). */
export function sortForList(files: FileRef[]): FileRef[] {
  return [...files].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
}

/** Encodes files (in index order) into one chunk. */
export function encodeFileChunk(files: FileRef[]): Buffer {
  // One string built by concatenation (no per-line field arrays): the crawler encodes every file once.
  let text = ''
  let prevSource = ''
  let prevKey = ''
  for (let n = 0; n < files.length; n++) {
    const f = files[n] as FileRef
    const ps = sharedPrefix(prevSource, f.source)
    let line = `${n ? '\n' : ''}${KIND_CODES[f.kind]}\t${ps.toString(36)}\t${escapeField(f.source.slice(ps))}\t`
    // Keys are usually the source URL's path: then only the key's length is stored.
    if (f.key && f.source.endsWith(f.key)) line += `*\t${f.key.length.toString(36)}`
    else {
      const pk = sharedPrefix(prevKey, f.key)
      line += `${pk.toString(36)}\t${escapeField(f.key.slice(pk))}`
    }
    if (f.size !== undefined || f.etag !== undefined) line += `\t${f.size === undefined ? '' : f.size.toString(36)}\t${escapeField(f.etag ?? '')}`
    text += line
    prevSource = f.source
    prevKey = f.key
  }
  return deflateRawSync(Buffer.from(text), { level: 6 })
}

/** Decodes one chunk back into FileRefs. */
export function decodeFileChunk(chunk: Buffer): FileRef[] {
  let text: string
  try { text = inflateRawSync(chunk).toString() } catch (err) {
    throw new DistributedTransferError('TRANSFER_DIST_BAD_JOB', 'corrupt file-list chunk in Redis', { cause: err })
  }
  if (!text) return []
  const out: FileRef[] = []
  let prevSource = ''
  let prevKey = ''
  for (const line of text.split('\n')) {
    const [kc = '', ps = '0', sRest = '', pk = '0', kRest = '', size, etag] = line.split('\t')
    const kind = KIND_BY_CODE.get(kc)
    if (!kind) throw new DistributedTransferError('TRANSFER_DIST_BAD_JOB', `corrupt file-list line: ${line.slice(0, 80)}`)
    const source = prevSource.slice(0, parseInt(ps, 36)) + unescapeField(sRest)
    const key = pk === '*' ? source.slice(source.length - parseInt(kRest, 36)) : prevKey.slice(0, parseInt(pk, 36)) + unescapeField(kRest)
    const ref: FileRef = { source, key, kind }
    if (size) ref.size = parseInt(size, 36)
    if (etag) ref.etag = unescapeField(etag)
    out.push(ref)
    prevSource = source
    prevKey = key
  }
  return out
}

/** Files of a class by index, assembled from chunks; chunks are immutable once written. */
export class FileList {
  readonly files: FileRef[] = []
  #byKey: Map<string, number> | undefined

  static fromChunks(chunks: Buffer[]): FileList {
    const list = new FileList()
    for (const c of chunks) list.files.push(...decodeFileChunk(c))
    return list
  }

  get length(): number { return this.files.length }

  indexOf(key: string): number | undefined {
    if (!this.#byKey) {
      this.#byKey = new Map()
      this.files.forEach((f, i) => this.#byKey?.set(f.key, i))
    }
    return this.#byKey.get(key)
  }
}

/** A 32-bit FNV-1a hash of what identifies a version of an origin file; 0 means "unknown". */
export function fingerprintOf(etag: string | undefined, size: number | undefined): number {
  if (etag === undefined && size === undefined) return 0
  const text = `${etag ?? ''}\u0000${size ?? ''}`
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h === 0 ? 1 : h
}
