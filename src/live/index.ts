// colony/live — the public API of the live subsystem (docs/live.md, "API"). Everything else is internal and
// imported by path inside the package.

// Run a node or the multi-process service.
export { startLiveServer, type LiveServer, type LiveServerOptions } from './http/live-server.ts'
export { serveLive, defaultWorkerCount, type ServeLiveOptions, type ServedLive } from './cluster/serve.ts'
export type { Hub } from './core/hub.ts'
export type { HubOptions, HubStats, SlowConsumerPolicy } from './core/hub-state.ts'
export { LIVE_DEFAULTS } from './defaults.ts'
export { LiveError, type LiveErrorCode } from './errors.ts'

// The dispatcher port and its implementations.
export type { LiveEvent, LiveTransport, PublishInput, ReplayResult } from './types.ts'
export { LocalTransport } from './transports/local-transport.ts'
export { ClusterRelay, ClusterWorkerTransport } from './transports/cluster-transport.ts'
export { RedisTransport, type RedisTransportOptions } from './transports/redis/redis-transport.ts'
export type { SequencerOptions } from './core/sequencer.ts'

// Clients and credentials.
export { SseParser, subscribeLive, publishLive, type SseMessage, type SubscribeOptions, type PublishOptions } from './client/sse-client.ts'
export { signJwtHs256, verifyJwtHs256 } from './auth/publish-auth.ts'
export {
  deriveViewerKey, parseViewerGrant, signViewerToken, verifyViewerToken, VIEWER_AUDIENCE,
  type IssuedViewerToken, type ViewerClaims, type ViewerGrant, type ViewerVerifyOptions,
} from './auth/viewer-tokens.ts'
