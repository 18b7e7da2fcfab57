// The first download of a key on an agent (no torrent on disk): join the whole-object torrent if it is published;
// else watch the key's segment torrents and campaign for the key at once, then follow (join the segments, or the
// whole torrent, as they are published) or lead (fetch from the origin, seed, publish).
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { untilAborted } from '../../shared/abort.ts'
import type { DownloadContext, DownloadHolding, DownloadState } from './download-types.ts'
import { SwarmError } from '../errors.ts'
import { fetchSegmentsFromOrigin, fetchWholeFromOrigin } from './leader-fetch.ts'
import type { OriginProbe } from '../origin/probe.ts'
import { PartSet } from './part-set.ts'
import { assembleParts } from './segments.ts'
import type { IndexPeer, LeaderClaim } from '../index-store/swarm-index.ts'
import { buildTorrentFile } from '../torrent-file.ts'
import { DATA_LAYOUT, torrentSource } from '../wire-format.ts'

/** What the flow reads and drives on its download. */
export type ClaimHost = {
  ctx: DownloadContext
  id: string
  probe: OriginProbe
  dir: string
  torrentPath: string
  /** The object file: it follows `held.name`. */
  file: () => string
  held: DownloadHolding
  /**
   * The caller named the object's SHA-256: it is taken as segments complete and checked. Otherwise the pieces'
   * SHA-1 (against the torrent) is the verification, and the SHA-256 is taken only if asked for later.
   */
  checkSha256: boolean
  /** Aborted when the download is cancelled. */
  signal: AbortSignal
  /** Aborted when the download is cancelled or a follower gives up on the swarm (back-to-source). */
  swarmSignal: AbortSignal
  peers: () => IndexPeer[]
  state: () => DownloadState
  setState: (state: DownloadState) => void
  progress: () => void
  onBan: (peer: { address: string; peerId: string }) => void
  joinSwarm: (torrent: Buffer, complete: boolean, superSeed?: boolean) => Promise<void>
  writeCompleteMark: () => Promise<void>
  fail: (err: unknown) => void
}

/**
 * Joins the whole-object torrent if it is published already. Otherwise watches the key's segment torrents and
 * joins each as it is published, while campaigning for the key. The first of these ends it: every segment verified
 * (assemble), the whole torrent published before any segment (join it, as for an object published whole), or this
 * agent elected (fetch from the origin, from the first unpublished segment when a previous leader died mid-way).
 */
export async function claimAndFetch(h: ClaimHost): Promise<void> {
  const { ctx, probe, held } = h
  const signal = h.swarmSignal
  h.setState('waiting')
  // Published whole already (the leader and maybe others hold all of it): one torrent, one round of connections,
  // as a stock client would join it. Its segments' swarms are for agents that asked while it was being fetched.
  const published = await ctx.index.lookup(probe.key)
  if (published) return joinWhole(h, published)
  const parts = new PartSet({ engine: ctx.engine, dir: path.join(h.dir, DATA_LAYOUT.partsDir), objectFile: h.file(), trackers: ctx.trackers, length: probe.length, log: ctx.log, digest: h.checkSha256 })
  held.parts = parts
  parts.addPeers(h.peers())
  parts.on('progress', h.progress)
  parts.on('ban', h.onBan)
  await mkdir(path.join(h.dir, DATA_LAYOUT.partsDir), { recursive: true })
  const watching = new AbortController()
  const stopWatching = (): void => watching.abort()
  signal.addEventListener('abort', stopWatching, { once: true })
  const campaign = new AbortController()
  const stopCampaign = (): void => campaign.abort(signal.reason)
  signal.addEventListener('abort', stopCampaign, { once: true })
  try {
    await ctx.index.watchParts(probe.key, (k, torrent) => {
      if (h.state() === 'waiting') h.setState('swarm')
      held.role ??= 'peer'
      parts.join(k, torrent).catch((err: unknown) => ctx.log.warn({ id: h.id, part: k, err: String(err) }, 'cannot join segment'))
    }, watching.signal)
    const claimed = ctx.index.claim(probe.key, { candidate: ctx.agentId, signal: campaign.signal })
    claimed.catch(() => undefined)
    const first = await Promise.race([claimed, parts.allDone.then(() => 'parts' as const)])
    if (signal.aborted) {
      // Back-to-source won the race with an election.
      if (first !== 'parts' && first.kind === 'leader') await first.release()
      throw signal.reason as Error
    }
    if (first === 'parts') {
      campaign.abort(new SwarmError('SWARM_CANCELLED', 'every segment arrived'))
      held.role = 'peer'
      await finishParts(h)
    } else if (first.kind === 'torrent' && parts.started === 0) {
      // Published whole (a small object, or before this agent looked): join the whole-object swarm.
      watching.abort()
      held.parts = undefined
      await parts.stop()
      await joinWhole(h, first.torrent)
    } else if (first.kind === 'torrent') {
      held.role = 'peer'
      await untilAborted(parts.allDone, signal)
      await finishParts(h)
    } else {
      watching.abort()
      held.role = 'leader'
      try {
        if (parts.started === 0 && probe.length <= ctx.segmentSize) {
          held.parts = undefined
          await fetchAsLeader(h, first)
        } else {
          await fetchSegmentsAsLeader(h, first, parts)
        }
      } finally { await first.release() }
    }
  } finally {
    watching.abort()
    signal.removeEventListener('abort', stopWatching)
    signal.removeEventListener('abort', stopCampaign)
  }
}

/** Joins the whole-object torrent someone published, as a peer. */
async function joinWhole(h: ClaimHost, torrent: Buffer): Promise<void> {
  h.held.role = 'peer'
  await writeFile(h.torrentPath, torrent)
  await h.joinSwarm(torrent, false)
}

/** Origin progress of the leader: bytes of the object on disk, bytes taken from the origin. */
function onOrigin(h: ClaimHost): (have: number, fromOrigin: number) => void {
  return (have, fromOrigin) => { h.held.originHave = have; h.held.fromOrigin = fromOrigin; h.progress() }
}

/**
 * The leader of a segmented object: fetches from the origin from the first unpublished segment on (see
 * fetchSegmentsFromOrigin), then waits for any segments still coming from peers and finishes as a follower does.
 */
async function fetchSegmentsAsLeader(h: ClaimHost, claim: LeaderClaim, parts: PartSet): Promise<void> {
  const got = await fetchSegmentsFromOrigin({
    ctx: h.ctx, probe: h.probe, claim, parts, name: h.held.name, id: h.id, signal: h.signal,
    onStart: () => h.setState('origin'), onProgress: onOrigin(h),
  })
  h.held.resumed = got.resumedBytes
  await untilAborted(parts.allDone, h.swarmSignal)
  await finishParts(h, claim)
}

/**
 * Every segment is verified: build the whole-object torrent (the segments' hashes concatenated — the same
 * info hash on every agent), assemble the file (unless the segments were written in place), seed it; the
 * leader publishes it.
 */
async function finishParts(h: ClaimHost, claim?: LeaderClaim): Promise<void> {
  const { ctx, probe, held } = h
  const parts = held.parts as PartSet
  const placedIn = h.file()
  held.name = parts.base ?? held.name
  // In place, under the leader's name for the object; a leader that named it otherwise (another version) gets
  // a copy under its name, which the whole-object torrent carries.
  const assemble = !parts.inPlace || placedIn !== h.file()
  const { torrent, parsed } = await buildTorrentFile({
    name: held.name, length: probe.length, pieceLength: parts.pieceLength, pieces: parts.pieces(), announce: ctx.trackers,
    comment: probe.url, source: torrentSource(probe.key),
  })
  if (!claim) {
    // A follower completes once every segment is verified and, when the caller named one, the object's SHA-256
    // is known (GET /v1/objects serves from the segments meanwhile); writing the single object file and seeding the whole-object
    // torrent follow, off the completion path — every agent finishing its last segment at once would
    // otherwise copy F bytes each at the same moment.
    if (h.checkSha256) held.sha256 = await parts.sha256()
    held.infoHash = parsed.infoHash
    held.assembly = (async () => {
      if (assemble) await assembleParts(parts.ranges(), h.file(), { sha256: false })
      held.assembled = true
      if (h.state() === 'cancelled') return
      await writeFile(h.torrentPath, torrent)
      await h.joinSwarm(torrent, true)
      await h.writeCompleteMark()
    })()
    held.assembly.catch(h.fail)
    return
  }
  if (h.checkSha256) held.sha256 = await parts.sha256()
  if (assemble) await assembleParts(parts.ranges(), h.file(), { sha256: false })
  held.assembled = true
  await writeFile(h.torrentPath, torrent)
  await h.joinSwarm(torrent, true)
  await claim.publish(torrent)
  ctx.log.info({ id: h.id, key: probe.key, infoHash: parsed.infoHash, segments: parts.layout?.count }, 'published torrent')
}

/** The leader of an object published whole: one fetch from the origin, then seed, then publish. */
async function fetchAsLeader(h: ClaimHost, claim: LeaderClaim): Promise<void> {
  const { ctx, probe, held } = h
  h.setState('origin')
  const got = await fetchWholeFromOrigin({
    ctx, probe, file: h.file(), name: held.name, signal: h.signal, onProgress: onOrigin(h),
  })
  held.resumed = got.resumedBytes
  held.sha256 = got.sha256
  await writeFile(h.torrentPath, got.torrent)
  // Seed first, publish second: whoever receives the torrent finds this agent already announcing.
  await h.joinSwarm(got.torrent, true, true)
  await claim.publish(got.torrent)
  ctx.log.info({ id: h.id, key: probe.key, infoHash: held.infoHash }, 'published torrent')
}
