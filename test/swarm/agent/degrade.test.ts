// Degrade, never hang: real etcd, real trackers, in-process agents on the native engine, a paced test origin.
// Every tracker down → the followers find the leader through the index; no peer at all → back to the origin after
// the stall timeout, counted in /metrics; back-to-source off → the download fails with SWARM_STALLED.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { after, before, describe, test } from 'node:test'
import { makeTempDir, startEtcd, type Service } from '../../../support/services.ts'
import {
  createEtcdIndex, createMemoryIndex, getDownload, requestDownload, startAgent, waitForDownload, type Agent, type AgentOptions, type DownloadInfo, type SwarmIndex,
} from '../../../src/swarm/index.ts'
import { probeOrigin } from '../../../src/swarm/origin/probe.ts'
import { HostAllowList } from '../../../src/shared/allow-host.ts'
import { startTracker, type Tracker } from '../../../src/swarm/tracker/start-tracker.ts'
import { startOrigin, type Origin } from '../swarm-fixtures.ts'

const MiB = 1024 * 1024
/** The reference pace: 32 MB from an 8 MB/s origin is a 4 s HTTP download. */
const ORIGIN_RATE = 8 * MiB

describe('swarm degrades, never hangs (etcd, trackers, native agents)', { timeout: 120_000 }, () => {
  let etcd: Service
  let dir: string
  const agents: Agent[] = []
  const indexes: SwarmIndex[] = []
  const origins: Origin[] = []
  const trackers: Tracker[] = []

  before(async () => {
    etcd = await startEtcd()
    dir = await makeTempDir('colony-swarm-degrade-')
  })
  after(async () => {
    for (const a of agents) await a.close().catch(() => undefined)
    for (const i of indexes) await i.close().catch(() => undefined)
    for (const t of trackers) await t.close().catch(() => undefined)
    for (const o of origins) await o.close()
    await etcd?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  /** A fleet of `n` agents on one etcd prefix, announcing to `tracker` URLs. */
  const fleet = async (n: number, announce: string[], extra: Partial<AgentOptions> = {}): Promise<Agent[]> => {
    const prefix = `degrade-${randomBytes(4).toString('hex')}/`
    const out: Agent[] = []
    for (let i = 0; i < n; i++) {
      const index = createEtcdIndex({ hosts: [etcd.url], prefix, leaseTtlSeconds: 2 })
      indexes.push(index)
      const a = await startAgent({
        dataDir: `${dir}/${prefix}a${i}`, index, trackers: announce, allowHosts: ['127.0.0.1'], seedTimeMs: 60_000,
        segmentSize: 4 * MiB, ...extra,
      })
      agents.push(a)
      out.push(a)
    }
    return out
  }
  const newOrigin = async (size: number): Promise<Origin> => {
    const o = await startOrigin({ size, rate: ORIGIN_RATE, path: `/obj/${randomBytes(4).toString('hex')}.bin` })
    origins.push(o)
    return o
  }
  const twoTrackers = async (): Promise<Tracker[]> => {
    const ts = [await startTracker({ port: 0, udpPort: false, intervalMs: 2000 }), await startTracker({ port: 0, udpPort: false, intervalMs: 2000 })]
    trackers.push(...ts)
    return ts
  }
  const fetchAll = async (o: Origin, on: Agent[]): Promise<DownloadInfo[]> => {
    const started = await Promise.all(on.map((a) => requestDownload(o.url, { agent: a.url, sha256: o.sha256 })))
    return Promise.all(started.map((d, i) => waitForDownload(d.id, { agent: (on[i] as Agent).url, timeoutMs: 60_000 })))
  }
  const metric = async (a: Agent, name: string): Promise<number> => {
    const text = await (await fetch(`${a.url}/metrics`)).text()
    const line = text.split('\n').find((l) => l.startsWith(name))
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0
  }
  /** Wall time of one plain HTTP download of the object (the bound the swarm is held to). */
  const httpMs = async (o: Origin): Promise<number> => {
    const t0 = performance.now()
    const body = Buffer.from(await (await fetch(o.url)).arrayBuffer())
    assert.equal(body.length, o.body.length)
    return performance.now() - t0
  }

  test('every tracker down: three agents complete 32 MB through the index\'s peers within 2x one HTTP download', async (t) => {
    const size = 32 * MiB
    const o = await newOrigin(size)
    const plain = await httpMs(o)
    const ts = await twoTrackers()
    const announce = ts.map((t) => t.httpAnnounceUrl)
    const on = await fleet(3, announce)
    for (const t of ts) await t.close()
    const sentBefore = o.bytesSent
    const t0 = performance.now()
    const done = await fetchAll(o, on)
    const took = performance.now() - t0
    for (const d of done) {
      assert.equal(d.state, 'seeding', JSON.stringify(d.error))
      assert.equal(d.sha256, o.sha256)
    }
    const egress = (o.bytesSent - sentBefore) / size
    t.diagnostic(`3 agents, trackers down: ${took.toFixed(0)} ms; one HTTP download: ${plain.toFixed(0)} ms; origin egress ${egress.toFixed(3)}x`)
    assert.equal(done.filter((d) => d.role === 'leader').length, 1)
    assert.ok(egress <= 1.05, `origin egress ${egress.toFixed(2)}x the object: the followers got it from the leader`)
    for (const a of on) assert.equal(await metric(a, 'colony_swarm_back_to_source_total'), 0)
    assert.ok(took <= 2 * plain, `three agents took ${took.toFixed(0)} ms, one HTTP download ${plain.toFixed(0)} ms`)
  })

  test('one tracker down: the fleet completes as before, origin egress about 1x', async () => {
    const size = 16 * MiB
    const o = await newOrigin(size)
    const ts = await twoTrackers()
    const on = await fleet(3, ts.map((t) => t.httpAnnounceUrl))
    await (ts[0] as Tracker).close()
    const sentBefore = o.bytesSent
    const done = await fetchAll(o, on)
    for (const d of done) assert.equal(d.sha256, o.sha256)
    const egress = (o.bytesSent - sentBefore) / size
    assert.ok(egress <= 1.05, `origin egress ${egress.toFixed(2)}x`)
  })

  /** A ghost holds the object's election and never publishes: its followers hear of no torrent and no peer. */
  const ghostLeader = async (o: Origin, prefix: string): Promise<() => Promise<void>> => {
    const index = createEtcdIndex({ hosts: [etcd.url], prefix, leaseTtlSeconds: 2 })
    indexes.push(index)
    const probe = await probeOrigin(o.url, new HostAllowList(['127.0.0.1']))
    const claim = await index.claim(probe.key, { candidate: 'ghost' })
    assert.equal(claim.kind, 'leader')
    return () => (claim.kind === 'leader' ? claim.release() : Promise.resolve())
  }

  test('a follower with no peer and no index entry goes back to the origin after the stall timeout, counted in /metrics', async () => {
    const size = 6 * MiB + 777
    const o = await newOrigin(size)
    const prefix = `ghost-${randomBytes(4).toString('hex')}/`
    const release = await ghostLeader(o, prefix)
    const index = createEtcdIndex({ hosts: [etcd.url], prefix, leaseTtlSeconds: 2 })
    indexes.push(index)
    const a = await startAgent({ dataDir: `${dir}/${prefix}f`, index, allowHosts: ['127.0.0.1'], stallTimeoutMs: 1000 })
    agents.push(a)
    try {
      const t0 = performance.now()
      const started = await requestDownload(o.url, { agent: a.url, sha256: o.sha256 })
      const d = await waitForDownload(started.id, { agent: a.url, timeoutMs: 30_000 })
      assert.equal(d.state, 'seeding', JSON.stringify(d.error))
      assert.equal(d.role, 'peer')
      assert.equal(d.sha256, o.sha256)
      assert.equal(d.bytes.fromOrigin, size)
      assert.ok(performance.now() - t0 >= 1000, 'not before the stall timeout')
      assert.equal(await metric(a, 'colony_swarm_back_to_source_total{reason="stalled"}'), 1)
      assert.equal(await metric(a, 'colony_swarm_back_to_source_bytes_total'), size)
    } finally { await release() }
  })

  test('the only seeder gone mid-download: the follower fetches only the pieces it misses from the origin', async () => {
    const size = 3 * MiB + 4321
    const o = await startOrigin({ size, path: `/obj/${randomBytes(4).toString('hex')}.bin` })
    origins.push(o)
    const index = createMemoryIndex()
    const tracker = await startTracker({ port: 0, udpPort: false, intervalMs: 2000 })
    trackers.push(tracker)
    const common = { index, trackers: [tracker.httpAnnounceUrl], allowHosts: ['127.0.0.1'], stallTimeoutMs: 1000 }
    const leader = await startAgent({ ...common, dataDir: `${dir}/partial-leader` })
    // Capped so the leader can be stopped while the follower holds some pieces and misses others.
    const follower = await startAgent({ ...common, dataDir: `${dir}/partial-follower`, downloadLimit: 512 * 1024 })
    agents.push(follower)
    const first = await requestDownload(o.url, { agent: leader.url })
    await waitForDownload(first.id, { agent: leader.url, timeoutMs: 20_000 })
    const sentBefore = o.bytesSent
    const started = await requestDownload(o.url, { agent: follower.url, sha256: o.sha256 })
    for (const until = Date.now() + 20_000; ;) {
      const d = await getDownload(started.id, { agent: follower.url })
      if (d.bytes.done >= MiB) break
      assert.ok(Date.now() < until, `the follower got ${d.bytes.done} bytes from the leader`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    await leader.close()
    const d = await waitForDownload(started.id, { agent: follower.url, timeoutMs: 30_000 })
    assert.equal(d.sha256, o.sha256)
    assert.ok(d.bytes.fromOrigin > 0 && d.bytes.fromOrigin <= size - MiB, `${d.bytes.fromOrigin} bytes from the origin: only what was missing`)
    assert.equal(o.bytesSent - sentBefore, d.bytes.fromOrigin, 'the origin sent exactly what the follower counts')
    assert.equal(await metric(follower, 'colony_swarm_back_to_source_total{reason="stalled"}'), 1)
    assert.equal(await metric(follower, 'colony_swarm_back_to_source_bytes_total'), d.bytes.fromOrigin)
  })

  test('back-to-source off: the stalled follower fails with SWARM_STALLED, shown in its status', async () => {
    const o = await newOrigin(2 * MiB)
    const prefix = `ghost-${randomBytes(4).toString('hex')}/`
    const release = await ghostLeader(o, prefix)
    const index = createEtcdIndex({ hosts: [etcd.url], prefix, leaseTtlSeconds: 2 })
    indexes.push(index)
    const a = await startAgent({ dataDir: `${dir}/${prefix}f`, index, allowHosts: ['127.0.0.1'], stallTimeoutMs: 500, backToSource: false })
    agents.push(a)
    try {
      const started = await requestDownload(o.url, { agent: a.url })
      await waitForDownload(started.id, { agent: a.url, timeoutMs: 30_000 }).then(
        () => assert.fail('the download should fail'),
        (err: unknown) => assert.equal((err as { code?: string }).code, 'SWARM_STALLED'),
      )
      const status = await getDownload(started.id, { agent: a.url })
      assert.equal(status.state, 'failed')
      assert.equal(status.error?.code, 'SWARM_STALLED')
      assert.equal(o.gets, 0, 'nothing fetched from the origin')
    } finally { await release() }
  })
})
