// What one download needs from its agent; its states and its API report are wire formats (wire-format.ts).
import type { HostAllowList } from '../../shared/allow-host.ts'
import type { Logger } from '../../shared/logger.ts'
import type { SwarmEngine } from '../engines/engine.ts'
import type { IndexPeer, SwarmIndex } from '../index-store/swarm-index.ts'
import type { BackToSourceReason } from './back-to-source.ts'
import type { Limiter } from '../../shared/limiter.ts'

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
