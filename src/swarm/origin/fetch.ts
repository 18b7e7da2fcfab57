// The leader's one download from the origin: resumable, pinned to the probed version, hashed on the way.
import { open, stat, type FileHandle } from 'node:fs/promises'
import { computeBackoff, delay, parseRetryAfter } from '../../shared/backoff.ts'
import type { HostAllowList } from '../../shared/allow-host.ts'
import { SWARM_DEFAULTS } from '../defaults.ts'
import { SwarmError } from '../errors.ts'
import type { PieceHasher } from '../torrent-file.ts'
import { requestAllowed, type OriginProbe, type OriginResponse } from './probe.ts'

/** Where the leader's origin bytes go: one file (whole object) or the segment files (progressive publication). */
export interface OriginSink {
  /** Bytes already held and hashed (resume), counted from the download's offset. */
  open(): Promise<number>
  /** Appends at `position` (counted from the offset; always the next byte). */
  write(chunk: Uint8Array, position: number): Promise<void>
  /** The origin ignored our Range and sends from the offset again: forget everything. */
  reset(): Promise<void>
  close(): Promise<void>
}

/** One file holding the object from byte 0; an existing prefix is re-hashed so a restarted leader continues. */
export function fileSink(file: string, hasher: PieceHasher, length: number): OriginSink {
  let fh: FileHandle | undefined
  return {
    open: async () => {
      fh = await openForResume(file)
      return rehashPrefix(fh, hasher, length)
    },
    write: async (chunk, position) => {
      await (fh as FileHandle).write(chunk, 0, chunk.length, position)
      hasher.update(chunk)
    },
    reset: async () => {
      await (fh as FileHandle).truncate(0)
      hasher.reset()
    },
    close: async () => { await fh?.close() },
  }
}

export type OriginDownloadOptions = {
  probe: OriginProbe
  allow: HostAllowList
  /** Destination file; an existing prefix is re-hashed and the rest fetched with a Range request. */
  file?: string
  hasher?: PieceHasher
  /** Instead of file + hasher. */
  sink?: OriginSink
  /** First byte of the object to fetch (a successor leader continues after the published segments). @defaultValue 0 */
  offset?: number
  /** One past the last byte to fetch (a back-to-source range). @defaultValue the object's length */
  end?: number
  /** Consecutive failed attempts (no byte gained past the furthest point reached) before giving up. @defaultValue SWARM_DEFAULTS.origin.retries (5) */
  retries?: number
  /** Bytes per second from the origin; 0 = no cap. @defaultValue 0 */
  rateLimit?: number
  /** Called with the contiguous byte count on disk after every write. @defaultValue none */
  onProgress?: (bytesOnDisk: number, fromOrigin: number) => void
  signal?: AbortSignal
  /** Backoff base in ms (tests shorten it). @defaultValue SWARM_DEFAULTS.origin.backoffBaseMs (200) */
  backoffBaseMs?: number
}

/**
 * The leader's one download from the origin: resumable Range requests pinned to the probed version
 * with If-Range, retried with full-jitter backoff, hashed as the bytes stream past.
 * Returns the bytes that really came from the origin in this run.
 */
export async function downloadFromOrigin(options: OriginDownloadOptions): Promise<{ fromOrigin: number; resumedBytes: number }> {
  const { probe, signal } = options
  const offset = options.offset ?? 0
  const end = options.end ?? probe.length
  const total = end - offset
  const sink = options.sink ?? fileSink(options.file as string, options.hasher as PieceHasher, probe.length)
  let fromOrigin = 0
  let resumedBytes = 0
  try {
    let have = await sink.open()
    resumedBytes = have
    options.onProgress?.(have, 0)
    let failures = 0
    // The furthest point reached: only bytes past it count as progress. An origin that ignores Range sends the
    // object from its start again, and one that also cuts it short at the same place would otherwise reset the
    // failure count on every attempt and never be given up on.
    let furthest = have
    const retries = options.retries ?? SWARM_DEFAULTS.origin.retries
    const pace = { start: Date.now(), bytes: 0 }
    while (have < total) {
      signal?.throwIfAborted()
      // Bytes of a 200 response to skip (an origin that ignores Range while we start past byte 0).
      let skip = 0
      try {
        const headers: Record<string, string> = { 'accept-encoding': 'identity' }
        if (offset + have > 0 || end < probe.length) {
          headers.range = `bytes=${offset + have}-${end < probe.length ? end - 1 : ''}`
          headers['if-range'] = probe.etag && !probe.etag.startsWith('W/') ? probe.etag : probe.lastModified ?? probe.etag ?? ''
        }
        const { res } = await requestAllowed(probe.fetchUrl, { headers, ...(signal ? { signal } : {}) }, options.allow)
        if (res.status === 200 && offset + have > 0) {
          // If-Range failed or Range unsupported: start over if it is still the same object.
          checkSameVersion(res, probe)
          await sink.reset()
          have = 0
          skip = offset
        } else if (res.status === 206) {
          const m = /bytes (\d+)-/.exec(res.header('content-range') ?? '')
          if (!m || Number(m[1]) !== offset + have) throw new Error(`origin sent range ${res.header('content-range')} for bytes=${offset + have}-`)
        } else if (res.status !== 200) {
          const wait = parseRetryAfter(res.header('retry-after'))
          await res.discard()
          const err = new Error(`origin answered ${res.status}`)
          if (res.status < 500 && res.status !== 429 && res.status !== 408) throw Object.assign(err, { fatal: true })
          throw Object.assign(err, { waitMs: wait })
        }
        if (have === 0) checkSameVersion(res, probe)
        for await (let chunk of res.body) {
          if (skip > 0) {
            const drop = Math.min(skip, chunk.length)
            skip -= drop
            chunk = chunk.subarray(drop)
          }
          const room = total - have
          const part = chunk.length > room ? chunk.subarray(0, room) : chunk
          if (part.length === 0) { if (room === 0) break; continue }
          await sink.write(part, have)
          have += part.length
          fromOrigin += part.length
          if (have > furthest) { furthest = have; failures = 0 }
          options.onProgress?.(have, fromOrigin)
          if (options.rateLimit) {
            pace.bytes += part.length
            const ahead = (pace.bytes / options.rateLimit) * 1000 - (Date.now() - pace.start)
            if (ahead > 5) await delay(ahead, signal)
          }
        }
        if (have < total) throw new Error(`origin closed the body at ${offset + have}/${probe.length}`)
      } catch (err) {
        if (signal?.aborted) throw signal.reason as Error
        if (err instanceof SwarmError || (err as { code?: string }).code === 'COLONY_FORBIDDEN_TARGET') throw err
        if ((err as { fatal?: boolean }).fatal || ++failures > retries) {
          throw new SwarmError('SWARM_ORIGIN_FAILED', `origin download of ${probe.url} failed at ${offset + have}/${probe.length}: ${(err as Error).message}`, { cause: err, details: { url: probe.url, bytes: offset + have } })
        }
        const wait = (err as { waitMs?: number }).waitMs ?? computeBackoff(failures, { baseMs: options.backoffBaseMs ?? SWARM_DEFAULTS.origin.backoffBaseMs, maxMs: SWARM_DEFAULTS.origin.backoffMaxMs })
        await delay(wait, signal)
      }
    }
  } finally {
    await sink.close()
  }
  return { fromOrigin, resumedBytes }
}

function checkSameVersion(res: OriginResponse, probe: OriginProbe): void {
  const etag = res.header('etag') ?? undefined
  const lm = res.header('last-modified') ?? undefined
  const changed = probe.etag ? etag !== undefined && etag !== probe.etag : lm !== undefined && lm !== probe.lastModified
  if (changed) {
    void res.discard()
    throw new SwarmError('SWARM_ORIGIN_CHANGED', `${probe.url} changed at the origin during the download; ask again for the new version`, { details: { url: probe.url } })
  }
}

async function openForResume(file: string): Promise<FileHandle> {
  try {
    await stat(file)
    return await open(file, 'r+')
  } catch {
    return open(file, 'w+')
  }
}

/** Feeds the bytes already on disk through the hasher so a restarted leader continues instead of refetching. */
async function rehashPrefix(fh: FileHandle, hasher: PieceHasher, length: number): Promise<number> {
  const size = Math.min((await fh.stat()).size, length)
  const buf = Buffer.allocUnsafe(1024 * 1024)
  let pos = 0
  while (pos < size) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - pos), pos)
    if (bytesRead === 0) break
    hasher.update(buf.subarray(0, bytesRead))
    pos += bytesRead
  }
  if ((await fh.stat()).size > pos) await fh.truncate(pos)
  return pos
}
