// Several `colony live serve --redis` processes on a real redis-server form one service.
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { after, before, test } from 'node:test'
import { Redis } from 'ioredis'
import { RedisTransport, startLiveServer } from '../../src/live/index.ts'
import { freePort, startRedis, stopProcess, type Service } from '../../support/services.ts'
import { allOpen, comments, publish, startColony, waitFor, watchTopic } from './live-helpers.ts'

const TOKEN = 'redis-secret'
const PREFIX = `t${process.pid}:`
let redis: Service
let client: Redis
type Node = { url: string; port: number; proc: ChildProcess }
const nodes: Node[] = []

async function startNode(): Promise<Node> {
  const port = await freePort()
  const proc = await startColony(['live', 'serve', '--workers', '1', '--port', String(port), '--redis', redis.url, '--redis-prefix', PREFIX,
    '--token', TOKEN, '--node-ttl', '1500ms', '--retry', '200ms', '--grace', '1s', '--coalesce', 'like=50ms'], port)
  const node = { url: `http://127.0.0.1:${port}`, port, proc }
  nodes.push(node)
  return node
}

async function metric(node: Node, name: string): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text()
  return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? 'NaN')
}

before(async () => {
  redis = await startRedis()
  client = new Redis(redis.url)
  // allSettled: every started node is registered (and stopped in after) even if another fails to start.
  const started = await Promise.allSettled([startNode(), startNode(), startNode()])
  const failed = started.find((r) => r.status === 'rejected')
  if (failed) throw failed.reason
})
after(async () => {
  client.disconnect()
  await Promise.all(nodes.map((n) => stopProcess(n.proc)))
  await redis.stop()
})

test('a publish to any node reaches the viewers on every node; only nodes with viewers receive it', { timeout: 60_000 }, async () => {
  const [n1, n2, n3] = nodes as [Node, Node, Node]
  const viewers = [watchTopic(n1.url, 'multi'), watchTopic(n1.url, 'multi'), watchTopic(n2.url, 'multi'), watchTopic(n3.url, 'only-3')]
  try {
    await allOpen(viewers)
    const before3 = await metric(n3, 'colony_live_received_total')
    await publish(n3.url, 'multi', TOKEN, { events: [{ type: 'comment', data: { n: 1 } }, { type: 'like', data: { count: 5 } }, { type: 'comment', data: { n: 2 } }] })
    await publish(n1.url, 'multi', TOKEN, { type: 'comment', data: { n: 3 } })
    for (const v of viewers.slice(0, 3)) {
      await waitFor(() => v.of('comment').length === 3 && v.likes() === 5, { message: 'every node delivered' })
      assert.deepEqual(v.of<{ n: number }>('comment').map((c) => c.n), [1, 2, 3])
      assert.deepEqual(v.events.filter((e) => e.event === 'comment').map((e) => e.id), ['1', '3', '4'], 'one id sequence across nodes')
    }
    assert.equal(viewers[3]?.events.length, 0)
    assert.equal(await metric(n3, 'colony_live_received_total'), before3, 'node 3 has no viewer of "multi" and was not sent its events')
    const routed = await client.zrange(`${PREFIX}t:multi:nodes`, 0, -1)
    assert.equal(routed.length, 2, 'the routing table lists exactly the two nodes with viewers')
    await waitFor(async () => ((await (await fetch(`${n3.url}/v1/topics/multi`)).json()) as { viewers: number }).viewers === 3, { message: 'viewer count across nodes' })
  } finally {
    await Promise.all(viewers.map((v) => v.stop()))
  }
})

test('a node killed mid-stream: its viewers resume on another node with Last-Event-ID and lose nothing; it drops out of routing', { timeout: 40_000 }, async () => {
  const [n1, n2, n3] = nodes as [Node, Node, Node]
  const onVictim = [watchTopic(n1.url, 'kill', { fallbackUrls: [n2.url] }), watchTopic(n1.url, 'kill', { fallbackUrls: [n3.url] })]
  const steady = watchTopic(n2.url, 'kill')
  const all = [...onVictim, steady]
  try {
    await allOpen(all)
    let sent = 0
    const publishing = (async () => {
      for (; sent < 60; sent++) {
        const r = await publish(n3.url, 'kill', TOKEN, { type: 'comment', data: { n: sent } })
        assert.equal(r.status, 202, `publish ${sent}: ${JSON.stringify(r.json)}`)
        await new Promise((r) => setTimeout(r, 15))
      }
    })()
    await waitFor(() => sent >= 20)
    n1.proc.kill('SIGKILL')
    await publishing
    for (const [i, v] of all.entries()) {
      const missing = (): string => {
        const got = new Set(v.of<{ n: number }>('comment').map((c) => c.n))
        return `viewer ${i} (opens ${v.opens.join(' ')}) got ${got.size}/60; missing n=${Array.from({ length: 60 }, (_, k) => k).filter((k) => !got.has(k)).join(',')}; events ${v.events.map((e) => `${e.event}#${e.id ?? ''}`).join(' ')}`
      }
      await waitFor(() => v.of('comment').length >= 60, { timeoutMs: 15_000, message: 'all 60 delivered' }).catch((err: unknown) => { throw new Error(missing(), { cause: err }) })
      assert.deepEqual(v.of<{ n: number }>('comment').map((c) => c.n), Array.from({ length: 60 }, (_, i) => i), 'no loss, no duplicate, in order')
    }
    for (const v of onVictim) assert.equal(v.opens.length, 2, 'reconnected once, to the fallback node')
    // The dead node stops refreshing its routing entry and ages out.
    await waitFor(async () => {
      const alive = await client.zrangebyscore(`${PREFIX}t:kill:nodes`, Date.now(), '+inf')
      return alive.length === 2
    }, { timeoutMs: 5_000, message: 'dead node expired from routing' })
    await waitFor(async () => ((await (await fetch(`${n2.url}/v1/topics/kill`)).json()) as { viewers: number }).viewers === 3, { timeoutMs: 5_000, message: 'viewer count excludes the dead node' })
  } finally {
    await Promise.all(all.map((v) => v.stop()))
  }
})

test('a node missing from routing for a moment fills the gap from the shared history: nothing lost, in order', { timeout: 30_000 }, async () => {
  const n3 = nodes[2] as Node
  const v = watchTopic(n3.url, 'gap')
  try {
    await v.opened
    await publish(n3.url, 'gap', TOKEN, { type: 'comment', data: { n: 0 } })
    await waitFor(() => v.of('comment').length === 1)
    const [nodeId] = await client.zrange(`${PREFIX}t:gap:nodes`, 0, -1)
    assert.ok(nodeId, 'n3 is routed')
    const gapsBefore = await metric(n3, 'colony_live_gaps_total')
    let n = 1
    // The node's own refresh re-adds it every few hundred ms, so a round may slip through routed; retry until
    // a batch really was published while the node was out of the table.
    for (let round = 0; round < 5 && await metric(n3, 'colony_live_gaps_total') === gapsBefore; round++) {
      await client.zrem(`${PREFIX}t:gap:nodes`, nodeId as string)
      await publish(n3.url, 'gap', TOKEN, comments(3, n))
      n += 3
      await client.zadd(`${PREFIX}t:gap:nodes`, Date.now() + 60_000, nodeId as string)
      await publish(n3.url, 'gap', TOKEN, { type: 'comment', data: { n } })
      n++
      await waitFor(() => v.of<{ n: number }>('comment').at(-1)?.n === n - 1, { message: 'the post-gap event arrived' })
    }
    assert.ok(await metric(n3, 'colony_live_gaps_total') > gapsBefore, 'a gap was seen')
    assert.deepEqual(v.of<{ n: number }>('comment').map((c) => c.n), Array.from({ length: n }, (_, i) => i), 'the skipped events were filled in, in order')
  } finally { await v.stop() }
})

test('graceful SIGTERM: viewers are told to reconnect and resume on another node without loss', { timeout: 30_000 }, async () => {
  const n2 = nodes[1] as Node
  const n3 = nodes[2] as Node
  const v = watchTopic(n2.url, 'drain', { fallbackUrls: [n3.url] })
  try {
    await v.opened
    await publish(n3.url, 'drain', TOKEN, { type: 'comment', data: { n: 0 } })
    await waitFor(() => v.of('comment').length === 1)
    const stopping = stopProcess(n2.proc)
    await waitFor(() => v.events.some((e) => e.event === 'reconnect'), { message: 'goodbye event' })
    await publish(n3.url, 'drain', TOKEN, { type: 'comment', data: { n: 1 } })
    await stopping
    await waitFor(() => v.of('comment').length === 2, { message: 'resumed on node 3' })
    assert.deepEqual(v.of<{ n: number }>('comment').map((c) => c.n), [0, 1])
    assert.equal(v.opens.at(-1), n3.url)
  } finally { await v.stop() }
})

test('split roles: a dispatcher-only node routes publishes to frontend-only and combined nodes', { timeout: 30_000 }, async () => {
  const dispatcher = await startLiveServer({ role: 'dispatcher', token: TOKEN, transport: new RedisTransport({ url: redis.url, prefix: PREFIX }) })
  const frontend = await startLiveServer({ role: 'frontend', token: TOKEN, transport: new RedisTransport({ url: redis.url, prefix: PREFIX }) })
  const n3 = nodes[2] as Node
  const viewers = [watchTopic(frontend.url, 'roles'), watchTopic(n3.url, 'roles')]
  try {
    await allOpen(viewers)
    assert.equal((await fetch(`${dispatcher.url}/v1/topics/roles/events`)).status, 404, 'no viewer streams on a dispatcher')
    assert.equal((await publish(frontend.url, 'roles', TOKEN, { type: 'comment', data: 0 })).status, 404, 'no publishing on a frontend')
    assert.equal((await publish(dispatcher.url, 'roles', TOKEN, { type: 'comment', data: 1 })).status, 202)
    for (const v of viewers) await waitFor(() => v.of('comment').length === 1, { message: 'routed through the dispatcher' })
    assert.equal(dispatcher.hub.stats.received, 0, 'the dispatcher itself watches nothing')
  } finally {
    await Promise.all(viewers.map((v) => v.stop()))
    await Promise.all([dispatcher.close({ graceMs: 100 }), frontend.close({ graceMs: 100 })])
  }
})
