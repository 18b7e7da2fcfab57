// The leader's side of a download: the one fetch from the origin, hashed on the way, and the torrents built from it
// — one for an object published whole, one per segment (seeded, then published) for a larger one.
import type { DownloadContext } from './download-types.ts'
import { downloadFromOrigin } from '../origin/fetch.ts'
import type { OriginProbe } from '../origin/probe.ts'
import type { PartSet } from './part-set.ts'
import { layoutForRate, SegmentSink, segmentLayout, segmentLength, segmentStart, type SegmentLayout } from './segments.ts'
import type { LeaderClaim } from '../index-store/swarm-index.ts'
import { buildTorrentFile, choosePieceLength, PieceHasher } from '../torrent-file.ts'
import { partName, torrentSource } from '../wire-format.ts'
import { performance } from 'node:perf_hooks'

type Progress = (have: number, fromOrigin: number) => void

/** Fetches the whole object into `file`, hashing SHA-1 per piece and SHA-256 of the whole; builds its torrent. */
export async function fetchWholeFromOrigin(o: {
  ctx: DownloadContext; probe: OriginProbe; file: string; name: string; signal: AbortSignal; onProgress: Progress
}): Promise<{ torrent: Buffer; sha256: string; resumedBytes: number }> {
  const { ctx, probe } = o
  const pieceLength = choosePieceLength(probe.length)
  const hasher = new PieceHasher(pieceLength)
  const got = await downloadFromOrigin({
    probe, allow: ctx.allow, file: o.file, hasher, signal: o.signal,
    retries: ctx.originRetries, rateLimit: ctx.downloadLimit, backoffBaseMs: ctx.backoffBaseMs, onProgress: o.onProgress,
  })
  const { pieces, sha256 } = hasher.finish()
  const { torrent } = await buildTorrentFile({
    name: o.name, length: probe.length, pieceLength, pieces, announce: ctx.trackers,
    comment: probe.url, source: torrentSource(probe.key),
  })
  return { torrent, sha256, resumedBytes: got.resumedBytes }
}

/**
 * The leader of a segmented object: fetches from the origin from the first segment it does not hold on, seeding
 * and publishing each segment as soon as it is hashed; segments a dead predecessor published come from peers
 * (joined here). `onProgress` gets bytes of the object on disk (counting the segments before the first fetched).
 */
export async function fetchSegmentsFromOrigin(o: {
  ctx: DownloadContext; probe: OriginProbe; claim: LeaderClaim; parts: PartSet; name: string; id: string
  signal: AbortSignal; onStart: () => void; onProgress: Progress
}): Promise<{ resumedBytes: number }> {
  const { ctx, probe, parts, claim } = o
  for (const [k, t] of await ctx.index.lookupParts(probe.key)) if (!parts.has(k)) await parts.join(k, t)
  const pieceLength = parts.pieceLength || choosePieceLength(probe.length)
  // Names a predecessor published fix the layout; a layout made here is sized again once the head is in, when the
  // segments are written in place (separate segment files are named by the layout they were opened under).
  const layoutFixed = parts.layout !== undefined || !parts.inPlace
  let layout: SegmentLayout = parts.layout ?? segmentLayout(probe.length, pieceLength, ctx.segmentSize, ctx.segmentTaper)
  parts.layout ??= layout
  parts.base ??= o.name
  parts.pieceLength ||= pieceLength
  // Segments published by a dead predecessor that this agent holds are kept; the rest come from the origin.
  const first = parts.firstIncomplete()
  await parts.drop(first)
  o.onStart()
  ctx.log.info({ id: o.id, segments: layout.count, segmentSize: layout.size, firstSegment: layout.head, from: first }, 'fetching segments from the origin')
  if (first >= layout.count) return { resumedBytes: 0 }
  // The rest is sized from the head's rate: the time to its last byte, the origin's wait before the first included.
  const fetchStart = performance.now()
  const afterHead = layoutFixed || first > 0 ? undefined : (l: SegmentLayout): SegmentLayout => {
    layout = layoutForRate(l, pieceLength, performance.now() - fetchStart, ctx.segmentSeconds, ctx.segmentTaper)
    parts.layout = layout
    if (layout !== l) ctx.log.info({ id: o.id, segments: layout.count, segmentSize: layout.size }, 'segments sized from the origin\'s rate')
    return layout
  }
  const sink = new SegmentSink({
    layout, first, pieceLength, placeOf: (k) => parts.placeOf(k), ...(afterHead ? { afterHead } : {}),
    onSegment: async (k, pieces) => {
      const { torrent } = await buildTorrentFile({
        name: partName(parts.base as string, k, layout), length: segmentLength(layout, k), pieceLength, pieces,
        announce: ctx.trackers, comment: probe.url, source: torrentSource(probe.key, true),
      })
      // Seed first, publish second, as for the whole torrent.
      await parts.join(k, torrent, true)
      await claim.publishPart(k, torrent)
      ctx.log.debug({ id: o.id, part: k }, 'published segment')
    },
  })
  parts.fetching = { part: () => sink.part, bytes: () => sink.partial }
  try {
    const got = await downloadFromOrigin({
      probe, allow: ctx.allow, sink, offset: segmentStart(layout, first), signal: o.signal,
      retries: ctx.originRetries, rateLimit: ctx.downloadLimit, backoffBaseMs: ctx.backoffBaseMs,
      onProgress: (have, fromOrigin) => o.onProgress(segmentStart(layout, first) + have, fromOrigin),
    })
    await sink.flushed()
    return { resumedBytes: got.resumedBytes }
  } finally { parts.fetching = undefined }
}
