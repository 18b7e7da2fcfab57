// What one download needs from its agent and what it holds as it goes; its states and its API report are wire formats
// (wire-format.ts).
import type { HostAllowList } from '../../shared/allow-host.ts'
import type { Logger } from '../../shared/logger.ts'
import type { EngineTorrent, SwarmEngine } from '../engines/engine.ts'
import type { IndexPeer, SwarmIndex } from '../index-store/swarm-index.ts'
import type { BackToSourceReason } from './back-to-source.ts'
import type { Limiter } from '../../shared/limiter.ts'
import type { PartSet } from './part-set.ts'

export type { DownloadInfo, DownloadState } from '../wire-format.ts'

/** Everything a download needs from its agent. */
export type DownloadContext = {
  engine: SwarmEngine
  index: SwarmIndex
  allow: HostAllowList
  dataDir: string
  trackers: string[]
  agentId: string
  /** Origin fetch cap in bytes/s (the agent's download limit); 0 = none. */
  downloadLimit: number
  seedTimeMs: number
  seedRatio: number
  /** Objects larger than this are fetched and published in segments of this size (rounded to whole pieces). */
  segmentSize: number
  /** Halvings of the last segment's worth of a segmented object (see segmentLayout). */
  segmentTaper: number
  /** Segments after the first hold at least this many seconds of the origin fetch (see layoutForRate). */
  segmentSeconds: number
  originRetries: number
  backoffBaseMs: number
  log: Logger
  /** This agent's BitTorrent address, registered in the index for every object it holds. @defaultValue none (the engine takes no index peers) */
  advertise: IndexPeer | undefined
  backToSource: {
    enabled: boolean
    stallMs: number
    deadlineMs: number
    slots: Limiter
    /** A follower went back to the origin. */
    started: (reason: BackToSourceReason) => void
    /** Bytes a back-to-source fetch took from the origin. */
    bytes: (n: number) => void
  }
  onBan: (info: { address: string; peerId: string }) => void
}

/**
 * What a download holds and has learnt so far: set by its flows (download.ts, claim-and-fetch.ts), read by its
 * report and its range reads.
 */
export type DownloadHolding = {
  role: 'leader' | 'peer' | undefined
  /** The object's file name: from the URL, then the torrent's. */
  name: string
  torrent: EngineTorrent | undefined
  /** Segment torrents (progressive publication); undefined for an object published whole. */
  parts: PartSet | undefined
  infoHash: string | undefined
  /** Bytes of the object on disk while fetching from the origin. */
  originHave: number
  fromOrigin: number
  resumed: number
  sha256: string | undefined
  /** A follower's object file is assembled from its segments after completion; reads use the segments until then. */
  assembled: boolean
  assembly: Promise<void> | undefined
}
