// In-process agents sharing a memory index: one origin download, swarm completion, API surface, errors.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { after, before, describe, test } from 'node:test'
import { makeTempDir } from '../helpers/services.ts'
import {
  createMemoryIndex, fetchObject, fetchTorrent, getDownload, listDownloads, parseTorrentFile, requestDownload,
  startAgent, waitForDownload, type Agent,
} from '../../src/swarm/index.ts'
import { startOrigin, startTracker, type Origin, type Tracker } from './swarm-fixtures.ts'

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

describe('swarm agents in one process (memory index)', { timeout: 60_000 }, () => {
  let origin: Origin
  let tracker: Tracker
  let dir: string
  const agents: Agent[] = []

  before(async () => {
    origin = await startOrigin({ size: 3 * 1024 * 1024 + 12345 })
    tracker = await startTracker()
    dir = await makeTempDir('colony-swarm-agent-')
    const index = createMemoryIndex()
    const host = new URL(origin.url).host
    for (let i = 0; i < 4; i++) {
      agents.push(await startAgent({ dataDir: `${dir}/a${i}`, index, trackers: [tracker.announce], allowHosts: [host], seedTimeMs: 60_000 }))
    }
  })
  after(async () => {
    for (const a of agents) await a.close()
    await tracker.close()
    await origin.close()
    await rm(dir, { recursive: true, force: true })
  })

  test('four agents asking at once: one origin GET, all files match', async () => {
    const started = await Promise.all(agents.map((a) => requestDownload(origin.url, { agent: a.url, sha256: origin.sha256 })))
    const done = await Promise.all(started.map((d, i) => waitForDownload(d.id, { agent: agents[i]?.url as string, timeoutMs: 40_000 })))
    assert.equal(origin.gets, 1, 'exactly one GET reached the origin')
    assert.equal(origin.bytesSent, origin.body.length)
    const leaders = done.filter((d) => d.role === 'leader')
    assert.equal(leaders.length, 1)
    assert.equal(leaders[0]?.bytes.fromOrigin, origin.body.length)
    for (const d of done.filter((x) => x.role === 'peer')) {
      assert.equal(d.bytes.fromOrigin, 0)
      assert.ok(d.bytes.fromPeers >= origin.body.length, `peer received ${d.bytes.fromPeers}`)
      assert.equal(d.sha256, origin.sha256)
    }
    for (const a of agents) {
      const res = await fetchObject(origin.url, { agent: a.url })
      assert.equal(sha(Buffer.from(await res.arrayBuffer())), origin.sha256)
    }
  })

  test('Range requests, the torrent, listing', async () => {
    const a = agents[2] as Agent
    const res = await fetchObject(origin.url, { agent: a.url, range: 'bytes=1000-1999' })
    assert.equal(res.status, 206)
    assert.equal(res.headers.get('content-range'), `bytes 1000-1999/${origin.body.length}`)
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), origin.body.subarray(1000, 2000))
    const tail = await fetchObject(origin.url, { agent: a.url, range: 'bytes=-10' })
    assert.deepEqual(Buffer.from(await tail.arrayBuffer()), origin.body.subarray(origin.body.length - 10))
    const parsed = await parseTorrentFile(await fetchTorrent(origin.url, { agent: a.url }))
    assert.equal(parsed.length, origin.body.length)
    assert.deepEqual(parsed.announce, [tracker.announce])
    const list = await listDownloads({ agent: a.url })
    assert.equal(list.length, 1)
    assert.equal((await getDownload(list[0]?.id as string, { agent: a.url })).state, 'seeding')
  })
})
