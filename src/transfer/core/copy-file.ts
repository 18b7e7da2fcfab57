// One attempt at one file: the unit both engines (in-process workers, Redis workers) call. It never throws
// for transfer failures; it returns a CopyOutcome saying whether a retry can help.
import { createHash, type Hash } from 'node:crypto'
import type { CopyOutcome, FileRef } from './types.ts'
import type { Destination, DirectResult, PutInfo, Source, SourceObject, StoredObject } from './ports.ts'
import { consumeBody, readBody, type BodySink } from './body-reader.ts'
import { giveBodyBuffer, takeBodyBuffer } from './body-buffers.ts'
import { TransferError, TRANSFER_CODES, toTransferError } from '../errors.ts'
import { contentTypeForKey } from './keys.ts'
import { MeasureStream } from './measure-stream.ts'
import { TRANSFER_DEFAULTS } from '../defaults.ts'

export type CopyFileOptions = {
  source: Source
  destination: Destination
  /** Compute the MD5 while streaming and compare it with the store's ETag. @defaultValue false */
  checksum?: boolean
  /**
   * Look at the destination first and skip the file when it is already there unchanged (same size and
   * origin validator / ETag / mtime). @defaultValue true
   */
  checkExisting?: boolean
  /**
   * Bodies up to this size are read into memory and written in one call (less per-file overhead); bigger ones
   * stream. A destination that takes bodies chunk by chunk (a directory on a copy worker thread: openSink) gets
   * every body of known size that way instead. @defaultValue TRANSFER_DEFAULTS.copy.bufferLimit
   */
  bufferLimit?: number
  signal?: AbortSignal
}

type HeadFn = (locator: string, o: { signal?: AbortSignal }) => Promise<{ size?: number; etag?: string; modified?: number }>

/** Whether what is stored matches the origin well enough to skip the copy. */
export function isUnchanged(stored: StoredObject, origin: { size?: number; etag?: string; modified?: number }): boolean {
  if (origin.size === undefined || stored.size !== origin.size) return false
  if (origin.etag && stored.sourceEtag) return stored.sourceEtag === origin.etag
  if (origin.etag && stored.etag) return stored.etag === origin.etag.replace(/^W\//, '').replace(/^"|"$/g, '')
  if (origin.modified !== undefined && stored.modified !== undefined) return Math.abs(stored.modified - origin.modified) < 1000
  return false
}

/** Multipart detection without importing the S3 adapter into the core. */
function partSizeFor(dest: Destination, size: number | undefined): number | undefined {
  const d = dest as Partial<{ isMultipart: (s: number | undefined) => boolean; partSize: number }>
  return typeof d.isMultipart === 'function' && d.isMultipart(size) ? d.partSize : undefined
}

type SinkDestination = { openSink: (key: string, info: PutInfo) => BodySink | undefined }

/** Destinations that may take a body chunk by chunk with blocking writes (DirDestination on a copy worker thread). */
function hasSink(dest: Destination): dest is Destination & SinkDestination {
  return typeof (dest as Partial<SinkDestination>).openSink === 'function'
}

function openSink(dest: Destination, key: string, info: PutInfo): BodySink | undefined {
  return hasSink(dest) ? dest.openSink(key, info) : undefined
}

/** What a destination is told of a body: the source's size, time and validator, and the content type. */
function putInfo(meta: { size?: number; modified?: number; etag?: string }, contentType: string, signal: AbortSignal | undefined): PutInfo {
  return {
    ...(meta.size !== undefined ? { size: meta.size } : {}), contentType, ...(meta.modified !== undefined ? { modified: meta.modified } : {}),
    ...(meta.etag ? { sourceEtag: meta.etag } : {}), ...(signal ? { signal } : {}),
  }
}

/** Writes each chunk to the sink, and to the MD5 first when there is one. */
function sinkWriter(sink: BodySink, md5: Hash | undefined): (chunk: Buffer) => void {
  return md5 ? (chunk) => { md5.update(chunk); sink.write(chunk) } : (chunk) => sink.write(chunk)
}

/** Makes a fully written sink's body visible (dropping it when that fails) and says what was copied. */
function commitSink(ref: FileRef, sink: BodySink, md5: Hash | undefined, contentType: string): CopyOutcome {
  let stored: StoredObject
  try { stored = sink.commit() } catch (err) { sink.abort(); throw err }
  const hex = md5?.digest('hex')
  return { ok: true, key: ref.key, bytes: stored.size, skipped: false, contentType, ...(hex ? { md5: hex } : {}) }
}

/**
 * Each chunk goes to the sink (and the MD5, with --checksum) as it arrives: no byte is copied in JS, no stream is
 * built per file, memory is bounded by the socket's chunks. The sink commits only a body of the announced size.
 */
async function copyIntoSink(ref: FileRef, body: SourceObject['body'], size: number, sink: BodySink, o: { checksum: boolean; contentType: string; signal?: AbortSignal | undefined }): Promise<CopyOutcome> {
  const { signal } = o
  const md5 = o.checksum ? createHash('md5') : undefined
  const onAbort = (): void => { body.destroy(signal?.reason instanceof TransferError ? signal.reason : new TransferError(TRANSFER_CODES.ABORTED, `${ref.key}: aborted`, { cause: signal?.reason })) }
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    if (signal?.aborted) onAbort()
    await consumeBody(body, size, ref.source, sinkWriter(sink, md5))
  } catch (err) {
    sink.abort()
    throw err
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }
  return commitSink(ref, sink, md5, o.contentType)
}

/** Writes a whole body with putBuffer, checking the store's ETag against the MD5 with --checksum. */
async function storeBuffer(ref: FileRef, dest: Destination, buf: Buffer, info: PutInfo, contentType: string, checksum: boolean): Promise<CopyOutcome> {
  const md5 = checksum ? createHash('md5').update(buf).digest('hex') : undefined
  const stored = await (dest.putBuffer as NonNullable<Destination['putBuffer']>)(ref.key, buf, { ...info, ...(md5 ? { md5 } : {}) })
  if (md5 && stored.etag && stored.etag !== md5) {
    throw new TransferError(TRANSFER_CODES.VERIFY_MISMATCH, `${ref.key}: stored ETag ${stored.etag} ≠ computed ${md5}`, { retryable: true })
  }
  return { ok: true, key: ref.key, bytes: buf.length, skipped: false, contentType, ...(stored.etag ? { etag: stored.etag } : {}), ...(md5 ? { md5 } : {}) }
}

/**
 * The direct lane (Source.getDirect): the socket's reads go straight into the destination's sink, or into one
 * buffer of the announced size for putBuffer. A body without announced size or over bufferLimit, for a destination
 * without a sink, comes back as a stream for the caller's streaming path; undefined when the source has no direct
 * lane for the locator (the caller then uses get()).
 */
async function copyDirect(ref: FileRef, source: Source & Required<Pick<Source, 'getDirect'>>, options: CopyFileOptions): Promise<CopyOutcome | SourceObject | undefined> {
  const { destination: dest, signal } = options
  const bufferLimit = options.bufferLimit ?? TRANSFER_DEFAULTS.copy.bufferLimit
  let sink: BodySink | undefined
  let md5: Hash | undefined
  let slab: Buffer | undefined
  let at = 0
  let info: PutInfo = {}
  let contentType = ''
  let got: DirectResult
  try {
    got = await source.getDirect(ref.source, {
      ...(signal ? { signal } : {}),
      open: (head) => {
        contentType = head.contentType ?? contentTypeForKey(ref.key)
        info = putInfo(head, contentType, signal)
        sink = openSink(dest, ref.key, info)
        if (sink) {
          md5 = options.checksum ? createHash('md5') : undefined
          return { write: sinkWriter(sink, md5) }
        }
        if (head.size === undefined || head.size > bufferLimit) return undefined
        const buf = (slab = takeBodyBuffer(head.size))
        return { write: (c) => { at += c.copy(buf, at) } }
      },
    })
  } catch (err) {
    sink?.abort()
    throw err
  }
  if (got === 'declined') return undefined
  if (typeof got === 'object') return got
  if (sink) return commitSink(ref, sink, md5, contentType)
  const outcome = await storeBuffer(ref, dest, slab ? slab.subarray(0, at) : Buffer.alloc(0), info, contentType, options.checksum === true)
  // Stored: the upload read every byte, so the buffer may carry the next body.
  if (slab) giveBodyBuffer(slab)
  return outcome
}

export async function copyFile(ref: FileRef, options: CopyFileOptions): Promise<CopyOutcome> {
  const { source, destination: dest, signal } = options
  const sig = signal ? { signal } : {}
  try {
    if (options.checkExisting ?? true) {
      const stored = await dest.stat(ref.key)
      if (stored) {
        let origin: { size?: number; etag?: string; modified?: number } = { ...(ref.size !== undefined ? { size: ref.size } : {}), ...(ref.etag ? { etag: ref.etag } : {}) }
        const head = (source as { head?: HeadFn }).head
        if (origin.size === undefined && head) origin = await head.call(source, ref.source, sig)
        if (isUnchanged(stored, origin)) return { ok: true, key: ref.key, bytes: stored.size, ...(stored.etag ? { etag: stored.etag } : {}), skipped: true }
      }
    }
    const direct = source.getDirect && (hasSink(dest) || dest.putBuffer) ? await copyDirect(ref, source as Source & Required<Pick<Source, 'getDirect'>>, options) : undefined
    if (direct && 'ok' in direct) return direct
    const obj = direct ?? await source.get(ref.source, sig)
    const contentType = obj.contentType ?? contentTypeForKey(ref.key)
    const info = putInfo(obj, contentType, signal)
    if (obj.path && dest.putFromFile) {
      obj.body.destroy()
      const stored = await dest.putFromFile(ref.key, obj.path, info)
      return { ok: true, key: ref.key, bytes: stored.size, skipped: false, contentType }
    }
    if (obj.size !== undefined) {
      let sink: BodySink | undefined
      try { sink = openSink(dest, ref.key, info) } catch (err) { obj.body.destroy(); throw err }
      if (sink) return await copyIntoSink(ref, obj.body, obj.size, sink, { checksum: options.checksum === true, contentType, signal })
    }
    const bufferLimit = options.bufferLimit ?? TRANSFER_DEFAULTS.copy.bufferLimit
    if (obj.size !== undefined && obj.size <= bufferLimit && dest.putBuffer) {
      return await storeBuffer(ref, dest, await readBody(obj.body, obj.size, ref.source), info, contentType, options.checksum === true)
    }
    const partSize = partSizeFor(dest, obj.size)
    const measure = new MeasureStream({
      ...(obj.size !== undefined ? { expectedSize: obj.size } : {}), md5: options.checksum === true,
      ...(options.checksum && partSize ? { partSize } : {}), label: ref.source,
    })
    // A body that fails mid-way must abort the write: some SDKs pipe the stream without watching its errors and
    // would otherwise wait for bytes that never come.
    const local = new AbortController()
    measure.on('error', (err) => local.abort(err))
    obj.body.on('error', (err) => measure.destroy(err))
    obj.body.pipe(measure)
    let stored: StoredObject
    try {
      stored = await dest.put(ref.key, measure, { ...info, signal: signal ? AbortSignal.any([signal, local.signal]) : local.signal })
    } catch (err) {
      obj.body.destroy()
      // A destination's SDK may wrap the stream's own error; the body's fault (truncation, reset) is the real one.
      throw (measure.errored as Error | null) ?? err
    }
    // AWS gives multipart objects an md5-of-part-md5s "-N" ETag; several S3-compatible stores give the plain MD5.
    // Compare with whichever the store's ETag is shaped like.
    const expected = stored.etag?.includes('-') ? measure.multipartEtag : measure.md5Hex
    if (options.checksum && stored.etag && expected && stored.etag !== expected) {
      throw new TransferError(TRANSFER_CODES.VERIFY_MISMATCH, `${ref.key}: stored ETag ${stored.etag} ≠ computed ${expected}`, { retryable: true })
    }
    return {
      ok: true, key: ref.key, bytes: measure.bytes, skipped: false, contentType,
      ...(stored.etag ? { etag: stored.etag } : {}), ...(expected ? { md5: expected } : {}),
    }
  } catch (err) {
    const e = toTransferError(err, ref.source)
    return { ok: false, key: ref.key, code: e.code, message: e.message, retryable: e.retryable, ...(e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {}) }
  }
}
