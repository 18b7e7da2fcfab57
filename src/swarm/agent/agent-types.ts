// What startAgent takes and what it returns.
import type { Registry } from '../../shared/metrics.ts'
import type { Logger } from '../../shared/logger.ts'
import type { EngineKind } from '../engines/engine.ts'
import type { PeerLimits } from '../engines/native/peer-limits.ts'
import type { SwarmIndex } from '../index-store/swarm-index.ts'
import type { Download, DownloadInfo } from './download.ts'

export type AgentOptions = {
  /** Directory for objects, torrents and download records; survives restarts (resume). */
  dataDir: string
  /** Hosts whose URLs may be fetched ("cdn.example.com", "*.example.com", "host:port"). Empty allows nothing. @defaultValue [] */
  allowHosts?: string[]
  /** The index. @defaultValue a private in-memory index (single host) */
  index?: SwarmIndex
  /** Tracker announce URLs, written into torrents this agent creates and added to every torrent it joins. @defaultValue [] */
  trackers?: string[]
  /** API bind address. @defaultValue SWARM_DEFAULTS.agent.apiHost ('127.0.0.1') */
  apiHost?: string
  /** API port; 0 picks a free one. @defaultValue SWARM_DEFAULTS.agent.apiPort (0) */
  apiPort?: number
  /**
   * Host names the API answers to besides its bind address ("name", "name:port", "*.domain"; "*" = any Host).
   * The bind address itself, `localhost` on a loopback bind, and any IP literal on a wildcard bind always pass.
   * @defaultValue []
   */
  apiAllowedHosts?: string[]
  /** Downloads one client address may have running that it started through the API; 0 = no limit. @defaultValue SWARM_DEFAULTS.api.maxActivePerClient (32) */
  apiMaxActive?: number
  /** Download starts per second per client address through the API; 0 = no limit. @defaultValue SWARM_DEFAULTS.api.startRate (5) */
  apiStartRate?: number
  /** Download starts one client address may make at once. @defaultValue SWARM_DEFAULTS.api.startBurst (20) */
  apiStartBurst?: number
  /**
   * BitTorrent engine: 'native' is colony's own in the agent's process (super-seeding leader, no choking; the
   * fastest in docs/benchmarks/swarm.md, and nothing to install); 'aria2' drives one aria2c child process over
   * JSON-RPC (fails with SWARM_ENGINE_MISSING without aria2c).
   * @defaultValue SWARM_DEFAULTS.agent.engine ('native')
   */
  engine?: EngineKind
  /** BitTorrent TCP listen port; 0 picks a free one. @defaultValue SWARM_DEFAULTS.agent.listenPort (0) */
  listenPort?: number
  /**
   * Address the BitTorrent listener binds (native engine only): one interface of a cluster host. Peers must be able
   * to reach it. @defaultValue all interfaces
   */
  peerHost?: string
  /** What one remote peer may hold: idle timeout, per-IP cap, encrypted-handshake rate (native engine). @defaultValue SWARM_DEFAULTS.peerLimits */
  peerLimits?: Partial<PeerLimits>
  /** Upload cap in bytes/s for all torrents; 0 = none. @defaultValue SWARM_DEFAULTS.agent.uploadLimit (0) */
  uploadLimit?: number
  /** Download cap in bytes/s (peers and origin); 0 = none. @defaultValue SWARM_DEFAULTS.agent.downloadLimit (0) */
  downloadLimit?: number
  /**
   * Objects larger than this are fetched in segments of this size (rounded up to whole pieces); each segment's
   * torrent is published as soon as it is hashed so peers start before the origin fetch ends. The native engine
   * starts a torrent at once, so smaller segments cut the lag behind the leader until their CPU per torrent
   * catches up (docs/benchmarks/swarm.md); aria2 needs 2–3 s per new torrent.
   * @defaultValue SWARM_DEFAULTS.agent.segmentSize[engine] (16 MiB native, 32 MiB aria2)
   */
  segmentSize?: number
  /**
   * Segments after the first hold at least this many seconds of the leader's origin fetch, at the rate the first
   * segment came in; never smaller than `segmentSize`. Each segment costs every agent a round of connections, so
   * an origin that delivers the object in a few seconds gets few segments (docs/benchmarks/swarm.md). 0 = the
   * segment size alone. @defaultValue SWARM_DEFAULTS.agent.segmentSeconds (2)
   */
  segmentSeconds?: number
  /** How long a finished object keeps seeding. @defaultValue SWARM_DEFAULTS.agent.seedTimeMs (1 h) */
  seedTimeMs?: number
  /** Stop seeding earlier once uploaded ≥ ratio × size; 0 = time only. @defaultValue SWARM_DEFAULTS.agent.seedRatio (0) */
  seedRatio?: number
  /** Bearer token required for mutating calls (POST, DELETE, and GET /v1/objects that starts a download). @defaultValue none */
  token?: string
  /** Consecutive origin failures before the leader gives up. @defaultValue SWARM_DEFAULTS.origin.retries (5) */
  originRetries?: number
  /** Origin retry backoff base in ms. @defaultValue SWARM_DEFAULTS.origin.backoffBaseMs (200) */
  backoffBaseMs?: number
  /**
   * Host registered in the index with the BitTorrent port: other agents dial it when no tracker answers.
   * @defaultValue SWARM_DEFAULTS.agent.advertiseHost ('': peerHost when it names one interface, else the first non-loopback IPv4, else 127.0.0.1)
   */
  advertiseHost?: string
  /** A follower that no peer serves in time fetches its missing pieces from the origin; false fails it with SWARM_STALLED. @defaultValue SWARM_DEFAULTS.backToSource.enabled (true) */
  backToSource?: boolean
  /** No new byte for this long → back to the origin. @defaultValue SWARM_DEFAULTS.backToSource.stallMs (15 s) */
  stallTimeoutMs?: number
  /** Not complete this long after the start → back to the origin, progress or not. @defaultValue SWARM_DEFAULTS.backToSource.deadlineMs (30 min) */
  swarmDeadlineMs?: number
  /** Back-to-source fetches this agent runs at once. @defaultValue SWARM_DEFAULTS.backToSource.maxConcurrent (2) */
  backToSourceMax?: number
  /** Identity in elections and logs. @defaultValue `${hostname}-${pid}-${random}` */
  agentId?: string
  /** Resume the downloads recorded in dataDir. @defaultValue SWARM_DEFAULTS.agent.resume (true) */
  resume?: boolean
  /** @defaultValue a silent logger */
  logger?: Logger
}

export type Agent = {
  /** API base URL, e.g. http://127.0.0.1:7480 */
  url: string
  agentId: string
  /** BitTorrent TCP port. */
  torrentPort: number
  /** Which engine moves the bytes. */
  engine: EngineKind
  index: SwarmIndex
  registry: Registry
  /**
   * Starts a download of url, or returns the one running. A finished one is revalidated at the origin:
   * same version → returned; changed → replaced by a new download (new key, new torrent).
   */
  startDownload(url: string, sha256?: string): Promise<Download>
  getDownload(id: string): Download | undefined
  findByUrl(url: string): Download | undefined
  listDownloads(): DownloadInfo[]
  removeDownload(id: string): Promise<boolean>
  /** Stops API, engine and (if the agent created it) the index. Data stays on disk. */
  close(): Promise<void>
}
