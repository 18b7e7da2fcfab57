// Back-to-source: a follower that no peer serves fetches what it is missing from the origin itself — only the
// missing pieces, as Range requests pinned to the probed version — so a download ends even with every tracker and
// every seeder gone. The agent bounds how many run at once (a shared Limiter).
import { open, type FileHandle } from 'node:fs/promises'
import type { HostAllowList } from '../../shared/allow-host.ts'
import { downloadFromOrigin, type OriginSink } from '../origin/fetch.ts'
import type { OriginProbe } from '../origin/probe.ts'
import type { EngineTorrent } from '../engines/engine.ts'
import { buildTorrentFile, choosePieceLength, PieceHasher } from '../torrent-file.ts'
import { torrentSource } from '../wire-format.ts'
import type { DownloadContext } from './download-types.ts'
import type { PartSet } from './part-set.ts'
import { performance } from 'node:perf_hooks'

/** Why a follower went back to the origin: no new byte for the stall timeout, or the swarm deadline passed. */
export type BackToSourceReason = 'stalled' | 'deadline'

/** Polls of the swarm deadline at most this far apart. */
const DEADLINE_POLL_MS = 1000

export type SwarmDeadlineOptions = {
  /** No new byte for this long → 'stalled'. */
  stallMs: number
  /** This long after the start → 'deadline', progress or not. */
  deadlineMs: number
  /** Bytes received or verified so far: any growth is progress. */
  progress: () => number
  /** The deadline applies now (a follower in the swarm; not the leader fetching from the origin). */
  active: () => boolean
  /** Stops watching; the promise then never settles. */
  signal: AbortSignal
}

/**
 * Resolves with the reason a follower should go back to the origin: no byte for `stallMs` while active, or
 * `deadlineMs` since the start. Time spent inactive does not count as a stall.
 */
export function swarmDeadline(o: SwarmDeadlineOptions): Promise<BackToSourceReason> {
  return new Promise((resolve) => {
    const start = performance.now()
    let last = o.progress()
    let movedAt = start
    const timer = setInterval(() => {
      const now = performance.now()
      const p = o.progress()
      if (p !== last || !o.active()) { last = p; movedAt = now }
      const reason: BackToSourceReason | undefined = !o.active() ? undefined
        : now - start >= o.deadlineMs ? 'deadline' : now - movedAt >= o.stallMs ? 'stalled' : undefined
      if (reason) { clearInterval(timer); resolve(reason) }
    }, Math.max(20, Math.min(DEADLINE_POLL_MS, o.stallMs / 4, o.deadlineMs / 4)))
    timer.unref()
    o.signal.addEventListener('abort', () => clearInterval(timer), { once: true })
  })
}

/** Bytes copied or hashed at once. */
const CHUNK = 1024 * 1024

export type MissingFetchOptions = {
  probe: OriginProbe
  allow: HostAllowList
  /** The object's file: verified pieces already there stay, the rest is written from the origin. */
  file: string
  pieceLength: number
  /** Piece `index` is verified on this agent. */
  has: (index: number) => boolean
  /** Where a verified piece starting at `pos` lives when not in `file` (segments in their own files). @defaultValue in `file` */
  elsewhere?: (pos: number) => { file: string; offset: number } | undefined
  signal: AbortSignal
  retries: number
  backoffBaseMs: number
  /** Origin bytes per second; 0 = no cap. */
  rateLimit: number
  /** Called with each batch of bytes that came from the origin. */
  onBytes: (n: number) => void
}

/** What a follower holds when it goes back to the origin. */
export type HeldPieces = {
  pieceLength: number
  /** Piece i is verified on this agent. */
  held: boolean[]
  /** Where a held piece lives when not in the object file (segments in their own files). */
  elsewhere?: (pos: number) => { file: string; offset: number }
}

/** Reads off the whole-object torrent or the segments (whichever the follower joined) what is verified already. */
export function heldPieces(length: number, t: EngineTorrent | undefined, partSet: PartSet | undefined): HeldPieces {
  const parts = partSet?.layout ? partSet : undefined
  const pieceLength = t?.pieceLength ?? (parts?.pieceLength || choosePieceLength(length))
  const held = Array.from({ length: Math.ceil(length / pieceLength) }, (_, i) => t ? t.hasPiece(i)
    : parts ? parts.hasRange(i * pieceLength, Math.min(length, (i + 1) * pieceLength) - 1) : false)
  return { pieceLength, held, ...(parts && !parts.inPlace ? { elsewhere: (pos: number) => parts.locate(pos) } : {}) }
}

/**
 * A follower's back-to-source: fetches the pieces it does not hold into `file` (at most the agent's slots at once
 * is the caller's to ensure), logged and counted; returns the torrent the leader builds for the object (same name,
 * piece length and source: the same info hash) and the object's SHA-256.
 */
export async function completeFromOrigin(o: {
  ctx: DownloadContext; probe: OriginProbe; file: string; name: string; id: string; reason: BackToSourceReason
  held: HeldPieces; signal: AbortSignal; onBytes: (n: number) => void
}): Promise<{ torrent: Buffer; sha256: string }> {
  const { ctx, probe, held } = o
  const b = ctx.backToSource
  b.started(o.reason)
  ctx.log.warn({ id: o.id, url: probe.url, reason: o.reason, held: held.held.filter(Boolean).length, pieces: held.held.length },
    'no peer serves the download: fetching the missing pieces from the origin')
  const got = await fetchMissingFromOrigin({
    probe, allow: ctx.allow, file: o.file, pieceLength: held.pieceLength, has: (i) => held.held[i] === true,
    ...(held.elsewhere ? { elsewhere: held.elsewhere } : {}), signal: o.signal,
    retries: ctx.originRetries, backoffBaseMs: ctx.backoffBaseMs, rateLimit: ctx.downloadLimit,
    onBytes: (n) => { b.bytes(n); o.onBytes(n) },
  })
  ctx.log.info({ id: o.id, url: probe.url, reason: o.reason, fetched: got.fetched, ranges: got.ranges }, 'back-to-source fetch complete')
  const { torrent } = await buildTorrentFile({
    name: o.name, length: probe.length, pieceLength: held.pieceLength, pieces: got.pieces, announce: ctx.trackers,
    comment: probe.url, source: torrentSource(probe.key),
  })
  return { torrent, sha256: got.sha256 }
}

/** The missing pieces as byte ranges [start, end), consecutive pieces merged into one request. */
export function missingRanges(length: number, pieceLength: number, has: (index: number) => boolean): Array<[number, number]> {
  const out: Array<[number, number]> = []
  const count = Math.ceil(length / pieceLength)
  for (let i = 0; i < count; i++) {
    if (has(i)) continue
    const start = i * pieceLength
    const end = Math.min(length, start + pieceLength)
    const last = out[out.length - 1]
    if (last && last[1] === start) last[1] = end
    else out.push([start, end])
  }
  return out
}

/**
 * Completes `file` from the origin: copies verified pieces kept elsewhere into it, fetches each missing range,
 * then hashes the whole file (SHA-1 per piece, SHA-256) so the caller builds the same torrent the leader did.
 */
export async function fetchMissingFromOrigin(o: MissingFetchOptions): Promise<{ pieces: Buffer; sha256: string; fetched: number; ranges: number }> {
  const { probe, pieceLength } = o
  const ranges = missingRanges(probe.length, pieceLength, o.has)
  const fh = await openSized(o.file, probe.length)
  try {
    if (o.elsewhere) await copyKept(fh, o, ranges)
    let fetched = 0
    for (const [start, end] of ranges) {
      let seen = 0
      await downloadFromOrigin({
        probe, allow: o.allow, sink: positionedSink(fh, start), offset: start, end, signal: o.signal,
        retries: o.retries, rateLimit: o.rateLimit, backoffBaseMs: o.backoffBaseMs,
        onProgress: (_have, fromOrigin) => { o.onBytes(fromOrigin - seen); fetched += fromOrigin - seen; seen = fromOrigin },
      })
    }
    const hasher = new PieceHasher(pieceLength)
    const buf = Buffer.allocUnsafe(CHUNK)
    for (let pos = 0; pos < probe.length;) {
      o.signal.throwIfAborted()
      const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, probe.length - pos), pos)
      if (bytesRead === 0) throw new Error(`short read of ${o.file} at ${pos}`)
      hasher.update(buf.subarray(0, bytesRead))
      pos += bytesRead
    }
    return { ...hasher.finish(), fetched, ranges: ranges.length }
  } finally { await fh.close() }
}

/** Opens (or creates) `file` at exactly `length` bytes; a missing tail stays sparse until written. */
async function openSized(file: string, length: number): Promise<FileHandle> {
  const fh = await open(file, 'r+').catch(() => open(file, 'w+'))
  if ((await fh.stat()).size !== length) await fh.truncate(length)
  return fh
}

/** Copies the verified pieces that live in other files (segments not written in place) into the object file. */
async function copyKept(fh: FileHandle, o: MissingFetchOptions, missing: Array<[number, number]>): Promise<void> {
  const buf = Buffer.allocUnsafe(o.pieceLength)
  let m = 0
  for (let pos = 0; pos < o.probe.length; pos += o.pieceLength) {
    while (missing[m] && (missing[m] as [number, number])[1] <= pos) m++
    const r = missing[m]
    if (r && r[0] <= pos) continue
    const at = o.elsewhere?.(pos)
    if (!at) continue
    const n = Math.min(o.pieceLength, o.probe.length - pos)
    const src = await open(at.file, 'r')
    try {
      const { bytesRead } = await src.read(buf, 0, n, at.offset)
      await fh.write(buf, 0, bytesRead, pos)
    } finally { await src.close() }
  }
}

/** Writes the origin's bytes of one range at their place in the object file. */
function positionedSink(fh: FileHandle, start: number): OriginSink {
  return {
    open: async () => 0,
    write: async (chunk, position) => { await fh.write(chunk, 0, chunk.length, start + position) },
    // The origin ignored the Range and sends from the range's start again: the same bytes land in the same place.
    reset: async () => undefined,
    close: async () => undefined,
  }
}
