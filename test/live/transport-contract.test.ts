// The LiveTransport contract against each implementation: in-process, the cluster relay with its worker
// transports (connected in this process; node:cluster IPC itself is covered by cluster.test.ts), and Redis.
import { randomBytes } from 'node:crypto'
import { after, before } from 'node:test'
import { LocalTransport, RedisTransport, type LiveTransport } from '../../src/live/index.ts'
import { ClusterRelay, ClusterWorkerTransport } from '../../src/live/transports/cluster-transport.ts'
import { startRedis, type Service } from '../../support/services.ts'
import { memoryCluster } from './contracts/memory-cluster.ts'
import { transportContract } from './contracts/transport.contract.ts'

const HISTORY = 100

/** A service whose nodes are closed with it. */
function serviceOf(make: () => LiveTransport, onClose: () => Promise<void> = async () => undefined): { node(): LiveTransport; close(): Promise<void> } {
  const nodes: LiveTransport[] = []
  return {
    node() { const n = make(); nodes.push(n); return n },
    async close() { await Promise.all(nodes.map((n) => n.close())); await onClose() },
  }
}

transportContract({
  name: 'LocalTransport', multiNode: false, historySize: HISTORY,
  open: async () => serviceOf(() => new LocalTransport({ historySize: HISTORY })),
})

transportContract({
  name: 'ClusterRelay + ClusterWorkerTransport', multiNode: true, historySize: HISTORY,
  open: async () => {
    const cluster = memoryCluster()
    const relay = new ClusterRelay({ historySize: HISTORY }, cluster.primary)
    return serviceOf(() => new ClusterWorkerTransport(cluster.worker()), async () => { relay.close() })
  },
})

let redis: Service
before(async () => { redis = await startRedis() })
after(async () => { await redis.stop() })

transportContract({
  name: 'RedisTransport', multiNode: true, historySize: HISTORY,
  open: async () => {
    // A prefix per service: the services share one Redis and nothing else.
    const prefix = `contract:${randomBytes(4).toString('hex')}:`
    return serviceOf(() => new RedisTransport({ url: redis.url, prefix, historySize: HISTORY }))
  },
})
