// The LiveTransport contract: what a node's hub relies on, whichever dispatcher is behind it. Registered once
// per implementation (transport-contract.test.ts); every test opens a fresh service.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { LiveEvent, LiveTransport, PublishInput } from '../../../src/live/index.ts'
import { waitFor } from '../live-helpers.ts'

/** One service (one DC) of an implementation: the nodes it hands out share sequencing, history and routing. */
export type TransportService = {
  /** A new node of the service, not started. */
  node(): LiveTransport
  /** Closes every node it handed out and anything else it started. */
  close(): Promise<void>
}

/** An implementation under test. */
export type TransportImplementation = {
  name: string
  /** Whether a service may have several nodes (node() called more than once). */
  multiNode: boolean
  /** Events of history the services keep per topic. */
  historySize: number
  /** A fresh service, sharing nothing with the others. */
  open(): Promise<TransportService>
}

type Started = { transport: LiveTransport; received: LiveEvent[] }

async function started(service: TransportService): Promise<Started> {
  const transport = service.node()
  const received: LiveEvent[] = []
  await transport.start((events) => { received.push(...events) })
  return { transport, received }
}

const comment = (n: number, extra: Partial<PublishInput> = {}): PublishInput => ({ type: 'comment', data: JSON.stringify({ n }), ...extra })
const ns = (events: readonly LiveEvent[], topic: string): number[] => events.filter((e) => e.topic === topic).map((e) => (JSON.parse(e.data) as { n: number }).n)

export function transportContract(impl: TransportImplementation): void {
  describe(`LiveTransport contract: ${impl.name}`, () => {
    async function withService(body: (service: TransportService) => Promise<void>): Promise<void> {
      const service = await impl.open()
      try { await body(service) } finally { await service.close() }
    }

    test('publish gives gap-free ids per topic in call order, keeps a given ts and stamps a missing one', () => withService(async (service) => {
      const { transport } = await started(service)
      const before = Date.now()
      const first = await transport.publish('seq', [comment(0), comment(1, { ts: 1234 })])
      assert.deepEqual(first.map((e) => e.id), [1, 2])
      assert.deepEqual(first.map((e) => [e.topic, e.type, e.data]), [['seq', 'comment', '{"n":0}'], ['seq', 'comment', '{"n":1}']])
      assert.ok((first[0]?.ts ?? 0) >= before && (first[0]?.ts ?? 0) <= Date.now(), 'a missing ts is the publish time')
      assert.equal(first[1]?.ts, 1234)
      // Two publishes in flight at once are sequenced in the order they were made.
      const [a, b] = await Promise.all([transport.publish('seq', [comment(2)]), transport.publish('seq', [comment(3), comment(4)])])
      assert.deepEqual([...(a ?? []), ...(b ?? [])].map((e) => e.id), [3, 4, 5])
      assert.deepEqual((await transport.publish('other', [comment(0)])).map((e) => e.id), [1], 'each topic has its own ids')
    }))

    test('a node receives, in id order, the events of the topics it watches and of no other', () => withService(async (service) => {
      const node = await started(service)
      await node.transport.watch('seen')
      await node.transport.publish('unseen', [comment(0)])
      for (let n = 0; n < 5; n++) await node.transport.publish('seen', [comment(n)])
      await waitFor(() => ns(node.received, 'seen').length === 5, { message: 'watched events delivered' })
      assert.deepEqual(ns(node.received, 'seen'), [0, 1, 2, 3, 4])
      assert.deepEqual(node.received.filter((e) => e.topic === 'seen').map((e) => e.id), [1, 2, 3, 4, 5])
      assert.deepEqual(ns(node.received, 'unseen'), [], 'the unwatched topic published first never arrived')
    }))

    test('after unwatch a topic\'s events stop arriving', () => withService(async (service) => {
      const node = await started(service)
      await node.transport.watch('leave')
      await node.transport.watch('stay')
      await node.transport.publish('leave', [comment(0)])
      await waitFor(() => ns(node.received, 'leave').length === 1, { message: 'delivered while watched' })
      node.transport.unwatch('leave')
      await node.transport.publish('leave', [comment(1)])
      // The watched topic's event, published after, is the barrier: whatever was routed before it has arrived.
      await node.transport.publish('stay', [comment(0)])
      await waitFor(() => ns(node.received, 'stay').length === 1, { message: 'barrier event delivered' })
      assert.deepEqual(ns(node.received, 'leave'), [0])
    }))

    test('an event published on one node reaches every other node watching its topic', { skip: !impl.multiNode && 'a single-node transport' }, () => withService(async (service) => {
      const [a, b, c] = [await started(service), await started(service), await started(service)]
      await b.transport.watch('fan')
      await c.transport.watch('fan')
      await a.transport.publish('fan', [comment(0), comment(1)])
      for (const n of [b, c]) await waitFor(() => ns(n.received, 'fan').length === 2, { message: 'both watching nodes got both events' })
      assert.deepEqual(ns(b.received, 'fan'), [0, 1])
      assert.deepEqual(ns(c.received, 'fan'), [0, 1])
      assert.deepEqual(ns(a.received, 'fan'), [], 'the publishing node does not watch the topic')
    }))

    test('an origin id seen before is dropped from the answer and takes no id', () => withService(async (service) => {
      const { transport } = await started(service)
      const first = await transport.publish('dup', [comment(0, { origin: 'eu:n1:1', ts: 10 })])
      const again = await transport.publish('dup', [comment(0, { origin: 'eu:n1:1', ts: 10 }), comment(1, { origin: 'eu:n1:2', ts: 11 })])
      assert.deepEqual(first.map((e) => [e.id, e.origin]), [[1, 'eu:n1:1']])
      assert.deepEqual(again.map((e) => [e.id, e.origin]), [[2, 'eu:n1:2']])
    }))

    test('replay answers the events after an id, nothing at the latest, and reset beyond what history holds', () => withService(async (service) => {
      const { transport } = await started(service)
      const total = impl.historySize + 5
      for (let n = 0; n < total; n += 50) await transport.publish('hist', Array.from({ length: Math.min(50, total - n) }, (_, i) => comment(n + i)))
      assert.deepEqual(await transport.replay('hist', total), { kind: 'events', events: [] })
      const tail = await transport.replay('hist', total - 3)
      assert.equal(tail.kind, 'events')
      assert.deepEqual(tail.kind === 'events' ? tail.events.map((e) => e.id) : [], [total - 2, total - 1, total])
      assert.deepEqual(await transport.replay('hist', 0), { kind: 'reset', latestId: total }, 'older than history')
      assert.deepEqual(await transport.replay('hist', total + 10), { kind: 'reset', latestId: total }, 'an id the topic never reached')
      assert.deepEqual(await transport.replay('never-published', 0), { kind: 'events', events: [] })
      assert.deepEqual(await transport.replay('never-published', 4), { kind: 'reset', latestId: 0 })
    }))

    test('viewer counts reported by the watching nodes add up', () => withService(async (service) => {
      const a = await started(service)
      await a.transport.watch('count')
      a.transport.reportViewers(new Map([['count', 3]]))
      await waitFor(async () => (await a.transport.viewerCount('count')) === 3, { message: 'one node\'s viewers counted' })
      if (!impl.multiNode) return
      const b = await started(service)
      await b.transport.watch('count')
      b.transport.reportViewers(new Map([['count', 2]]))
      await waitFor(async () => (await b.transport.viewerCount('count')) === 5, { message: 'both nodes\' viewers counted' })
      a.transport.unwatch('count')
      await waitFor(async () => (await b.transport.viewerCount('count')) === 2, { message: 'a node that unwatches stops counting' })
    }))
  })
}
