// Public entry of the swarm subsystem (colony/swarm).
export { startAgent, downloadIdOf, type Agent, type AgentOptions } from './agent/agent.ts'
export { AGENT_API_DEFAULTS } from './api/agent-api.ts'
export { Download, type DownloadInfo, type DownloadState } from './agent/download.ts'
export { SwarmError, isSwarmError, SWARM_ERROR_CODES, type SwarmErrorCode } from './errors.ts'
export { createMemoryIndex } from './index-store/memory-index.ts'
export { PEER_LIMIT_DEFAULTS, type PeerLimits, type PeerDropReason } from './engines/native/peer-limits.ts'
export type { ProtocolErrorReason } from './engines/native/wire-guard.ts'
export { createEtcdIndex, type EtcdIndexOptions } from './index-store/etcd-index.ts'
export type { SwarmIndex, Claim, LeaderClaim, TorrentClaim, ClaimOptions } from './index-store/swarm-index.ts'
export { probeOrigin, keyOf, type OriginProbe } from './origin/origin.ts'
export { createHashingFileSink } from './api/hashing-sink.ts'
export { buildTorrentFile, parseTorrentFile, choosePieceLength, PieceHasher } from './torrent-file.ts'
export {
  requestDownload, getDownload, listDownloads, deleteDownload, fetchTorrent, fetchObject, waitForDownload,
  DEFAULT_AGENT_URL, type AgentClientOptions,
} from './api/client.ts'
export * from './tracker/index.ts'
export * from '../demo/swarm.ts'
