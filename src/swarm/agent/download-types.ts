// The shapes around one download: its states, what the API reports about it, and what it needs from its agent.
import type { HostAllowList } from '../../shared/allow-host.ts'
import type { Logger } from '../../shared/logger.ts'
import type { SwarmEngine } from '../engines/engine.ts'
import type { SwarmIndex } from '../index-store/swarm-index.ts'

export type DownloadState = 'probing' | 'waiting' | 'origin' | 'swarm' | 'seeding' | 'done' | 'failed' | 'cancelled'

/** What GET /v1/downloads/:id answers. */
export type DownloadInfo = {
  id: string
  url: string
  state: DownloadState
  /** "leader" fetched it from the origin; "peer" got it from the swarm. */
  role?: 'leader' | 'peer'
  sha256?: string
  key?: string
  infoHash?: string
  name?: string
  length?: number
  bytes: {
    /** Verified bytes on disk. */
    done: number
    /** Bytes this agent fetched from the origin in this run. */
    fromOrigin: number
    /** Bytes received from peers in this run (including any that failed verification). */
    fromPeers: number
    /** Bytes found valid on disk at start (resumed). */
    resumed: number
    uploaded: number
  }
  /** Bytes per second. */
  rate: { down: number; up: number }
  peers: number
  bannedPeers: number
  seeding: boolean
  createdAt: string
  completedAt?: string
  error?: { code: string; message: string }
}

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
  onBan: (info: { address: string; peerId: string }) => void
}
