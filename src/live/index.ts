// Public entry of the live subsystem (colony/live).
export { startLiveServer, type LiveServer, type LiveServerOptions } from './http/live-server.ts'
export { serveLive, defaultWorkerCount, connectionsPerProcess, type ServeLiveOptions, type ServedLive } from './cluster/serve.ts'
export { Hub, type HubOptions, type HubStats, type SlowConsumerPolicy } from './core/hub.ts'
export { LocalTransport } from './transports/local-transport.ts'
export { RedisTransport, type RedisTransportOptions } from './transports/redis/redis-transport.ts'
export { ClusterRelay, ClusterWorkerTransport } from './transports/cluster-transport.ts'
export { Sequencer, type SequencerOptions } from './core/sequencer.ts'
export { TopicHistory } from './core/topic-history.ts'
export { PeerForwarder, type PeerForwarderOptions } from './transports/peer-forwarder.ts'
export { encodeSseEvent, encodeSseText, encodeSseComment, encodeSseRetry, type SseFields } from './core/sse-frame.ts'
export { encodeReplay, encodeCoalesced, coalescedKey } from './core/event-frames.ts'
export { SseParser, subscribeLive, publishLive, type SseMessage, type SubscribeOptions, type PublishOptions } from './client/sse-client.ts'
export { signJwtHs256, verifyJwtHs256, type PublishAuthOptions } from './auth/publish-auth.ts'
export { parsePublishBody, parseTopic } from './core/publish-body.ts'
export { LiveError, type LiveErrorCode } from './errors.ts'
export type { LiveEvent, LiveTransport, PublishInput, ReplayResult } from './types.ts'
export {
  deriveViewerKey, parseViewerGrant, signViewerToken, verifyViewerToken, VIEWER_AUDIENCE,
  type IssuedViewerToken, type ViewerClaims, type ViewerGrant,
} from './auth/viewer-tokens.ts'
