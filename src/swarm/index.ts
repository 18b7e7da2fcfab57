// Public API of the swarm subsystem (colony/swarm); docs/swarm.md "## API" lists every export. Everything else is
// imported by path inside the package.
export { startAgent, downloadIdOf, type Agent, type AgentOptions } from './agent/agent.ts'
export type { Download } from './agent/download.ts'
export type { DownloadInfo, DownloadState } from './wire-format.ts'
export type { EngineKind } from './engines/engine.ts'
export type { PeerLimits } from './engines/native/peer-limits.ts'
export { SWARM_DEFAULTS } from './defaults.ts'
export { SwarmError, isSwarmError, SWARM_ERROR_CODES, type SwarmErrorCode } from './errors.ts'
export { createMemoryIndex } from './index-store/memory-index.ts'
export { createEtcdIndex, type EtcdIndexOptions } from './index-store/etcd-index.ts'
export type { SwarmIndex, Claim, LeaderClaim, TorrentClaim, ClaimOptions } from './index-store/swarm-index.ts'
export {
  requestDownload, getDownload, listDownloads, deleteDownload, fetchTorrent, fetchObject, waitForDownload,
  type AgentClientOptions,
} from './api/client.ts'
export { startTracker, type Tracker, type TrackerOptions, type TrackerStats } from './tracker/start-tracker.ts'
