// Public entry of the swarm subsystem (colony/swarm).
export { startAgent, downloadIdOf, type Agent, type AgentOptions } from './agent.ts'
export { AGENT_API_DEFAULTS } from './agent-api.ts'
export { Download, type DownloadInfo, type DownloadState } from './download.ts'
export { SwarmError, isSwarmError, SWARM_ERROR_CODES, type SwarmErrorCode } from './errors.ts'
export { createMemoryIndex } from './memory-index.ts'
export { PEER_LIMIT_DEFAULTS, type PeerLimits, type PeerDropReason } from './peer-limits.ts'
export type { ProtocolErrorReason } from './wire-guard.ts'
export { createEtcdIndex, type EtcdIndexOptions } from './etcd-index.ts'
export type { SwarmIndex, Claim, LeaderClaim, TorrentClaim, ClaimOptions } from './swarm-index.ts'
export { probeOrigin, keyOf, type OriginProbe } from './origin.ts'
export { createHashingFileSink } from './hashing-sink.ts'
export { buildTorrentFile, parseTorrentFile, choosePieceLength, PieceHasher } from './torrent-file.ts'
export {
  requestDownload, getDownload, listDownloads, deleteDownload, fetchTorrent, fetchObject, waitForDownload,
  DEFAULT_AGENT_URL, type AgentClientOptions,
} from './client.ts'
export * from './tracker/index.ts'
export * from './demo.ts'
