// In-process agents sharing a memory index: one origin download, swarm completion, API surface, errors.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readdir, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { makeTempDir, waitFor } from '../../../support/services.ts'
import {
  createMemoryIndex, fetchObject, fetchTorrent, getDownload, listDownloads, requestDownload, startAgent, waitForDownload, type Agent,
} from '../../../src/swarm/index.ts'
import { parseTorrentFile } from '../../../src/swarm/torrent-file.ts'
import { startRoguePeer } from '../native/wire/rogue-peer.ts'
import { startOrigin, startTracker, type Origin, type Tracker } from '../swarm-fixtures.ts'

const JSON_TYPE = { 'content-type': 'application/json' }
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

// Every scenario runs on both engines: colony's own (native, the default) and an aria2c child (aria2).
for (const engine of ['aria2', 'native'] as const) {
  describe(`swarm agents in one process (memory index, ${engine} engine)`, { timeout: 60_000 }, () => {
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
        // 1 MiB segments: the object is published progressively, in segment torrents plus the whole one. With
        // aria2 (segment files) 4 of them; the native engine (in place) sizes the segments after the first from the
        // origin's rate, and an hour's worth puts the rest of the object in one.
        agents.push(await startAgent({ engine, dataDir: `${dir}/a${i}`, index, trackers: [tracker.announce], allowHosts: [host], seedTimeMs: 60_000, segmentSize: 1024 * 1024, segmentSeconds: 3600 }))
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
      assert.equal(new Set(done.map((d) => d.infoHash)).size, 1, 'every agent built the same whole-object torrent from the segments')
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
      if (engine === 'native') {
        // Segments written in place: each agent's disk holds the object once, with no segment files beside it.
        for (const [i, d] of done.entries()) {
          const files = await readdir(path.join(dir, `a${i}`, 'objects', d.key as string, 'parts'))
          assert.deepEqual(files.filter((f) => !f.endsWith('.torrent')), [], `agent ${i} keeps ${files.join(', ')}`)
          assert.equal(files.filter((f) => /^part-\d+\.torrent$/.test(f)).length, 2, `agent ${i}: the head and the rest, sized from the origin's rate (${files.join(', ')})`)
        }
      }
    })

    test('an agent asking once the object is published whole joins the whole-object torrent alone', async () => {
      const gets = origin.gets
      const late = await startAgent({ engine, dataDir: `${dir}/late`, index: (agents[0] as Agent).index, trackers: [tracker.announce], allowHosts: [new URL(origin.url).host], seedTimeMs: 60_000, segmentSize: 1024 * 1024, segmentSeconds: 3600 })
      try {
        const d = await requestDownload(origin.url, { agent: late.url, sha256: origin.sha256 })
        const done = await waitForDownload(d.id, { agent: late.url, timeoutMs: 40_000 })
        assert.equal(origin.gets, gets, 'no GET reached the origin')
        assert.equal(done.role, 'peer')
        assert.equal(done.sha256, origin.sha256)
        assert.ok(done.bytes.fromPeers >= origin.body.length, `received ${done.bytes.fromPeers} from peers`)
        // No segment torrent joined: the parts folder was never made.
        await assert.rejects(readdir(path.join(dir, 'late', 'objects', done.key as string, 'parts')), { code: 'ENOENT' })
      } finally { await late.close() }
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

  describe(`swarm agent safety and recovery (memory index, ${engine} engine)`, { timeout: 90_000 }, () => {
    let origin: Origin
    let tracker: Tracker
    let dir: string
    let host: string
    const index = createMemoryIndex()
    const open: Agent[] = []
    const agent = async (name: string, extra: Partial<Parameters<typeof startAgent>[0]> = {}): Promise<Agent> => {
      const a = await startAgent({ engine, dataDir: `${dir}/${name}`, index, trackers: [tracker.announce], allowHosts: [host], seedTimeMs: 60_000, ...extra })
      open.push(a)
      return a
    }

    before(async () => {
      origin = await startOrigin({ size: 2 * 1024 * 1024 + 777, path: '/safety/object.bin' })
      tracker = await startTracker()
      dir = await makeTempDir('colony-swarm-safety-')
      host = new URL(origin.url).host
    })
    after(async () => {
      for (const a of open) await a.close().catch(() => undefined)
      await tracker.close()
      await origin.close()
      await rm(dir, { recursive: true, force: true })
    })

    test('a rogue peer sending garbage is banned and the download still completes', async () => {
      // The leader uploads slowly so the downloader also asks the rogue, which answers instantly with garbage.
      const leader = await agent('leader', { uploadLimit: 512 * 1024 })
      const first = await requestDownload(origin.url, { agent: leader.url })
      const led = await waitForDownload(first.id, { agent: leader.url, timeoutMs: 20_000 })
      assert.equal(led.role, 'leader')
      const parsed = await parseTorrentFile(await fetchTorrent(origin.url, { agent: leader.url }))
      const rogue = await startRoguePeer({ infoHash: parsed.infoHash, pieces: parsed.pieces.length, announce: [tracker.announce] })
      try {
        const victim = await agent('victim')
        const d = await requestDownload(origin.url, { agent: victim.url, sha256: origin.sha256 })
        const done = await waitForDownload(d.id, { agent: victim.url, timeoutMs: 40_000 })
        assert.ok(rogue.requests > 0, 'the rogue was asked for blocks')
        assert.ok(done.bannedPeers >= 1, `banned ${done.bannedPeers}`)
        assert.equal(done.sha256, origin.sha256)
        assert.equal(done.bytes.fromOrigin, 0)
        const res = await fetchObject(origin.url, { agent: victim.url })
        assert.equal(sha(Buffer.from(await res.arrayBuffer())), origin.sha256)
        const metrics = await (await fetch(`${victim.url}/metrics`)).text()
        assert.match(metrics, /colony_swarm_banned_peers_total [1-9]/)
      } finally {
        await rogue.close()
      }
      assert.equal(origin.gets, 1)
    })

    test('a partial download resumes after an agent restart', async () => {
      const dataDir = `${dir}/resumer`
      let a = await startAgent({ engine, dataDir, index, trackers: [tracker.announce], allowHosts: [host], downloadLimit: 400 * 1024 })
      const d = await requestDownload(origin.url, { agent: a.url, sha256: origin.sha256 })
      await waitFor(async () => {
        const info = await getDownload(d.id, { agent: a.url })
        return info.state === 'swarm' && info.bytes.done > origin.body.length / 4
      }, { timeoutMs: 20_000, message: 'a quarter downloaded' })
      const before = (await getDownload(d.id, { agent: a.url })).bytes.done
      assert.ok(before < origin.body.length, 'stopped before the end')
      await a.close()
      a = await agent('resumer-2', { dataDir })
      const done = await waitForDownload(d.id, { agent: a.url, timeoutMs: 30_000 })
      assert.ok(done.bytes.resumed > 0 && done.bytes.resumed >= before - parsedPiece(done), `resumed ${done.bytes.resumed} of ${before}`)
      assert.ok(done.bytes.fromPeers < origin.body.length, 'only the missing part came from peers')
      assert.equal(done.sha256, origin.sha256)
      assert.equal(origin.gets, 1, 'no extra origin download')
    })

    test('sha256 mismatch is a clear error', async () => {
      const a = open[0] as Agent
      const wrong = 'ab'.repeat(32)
      // Finished object: refused at once with 422.
      const res = await fetch(`${a.url}/v1/downloads`, { method: 'POST', headers: JSON_TYPE, body: JSON.stringify({ url: origin.url, sha256: wrong }) })
      assert.equal(res.status, 422)
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'SWARM_SHA256_MISMATCH')
      // Fresh download: fails with the code, and the object is not served as good.
      const fresh = await agent('sha-check')
      const d = await requestDownload(origin.url, { agent: fresh.url, sha256: wrong })
      await assert.rejects(waitForDownload(d.id, { agent: fresh.url, timeoutMs: 20_000 }), (err: Error & { code?: string }) => err.code === 'SWARM_SHA256_MISMATCH' && /expected abab/.test(err.message))
      const obj = await fetch(`${fresh.url}/v1/objects?url=${encodeURIComponent(origin.url)}&sha256=${wrong}`)
      assert.equal(obj.status, 422)
      assert.equal(((await obj.json()) as { error: { code: string } }).error.code, 'SWARM_SHA256_MISMATCH')
    })

    test('without a sha256 a peer checks pieces only; a later request naming one has the object hashed and checked', async () => {
      const peer = await agent('no-sha')
      const d = await requestDownload(origin.url, { agent: peer.url })
      const done = await waitForDownload(d.id, { agent: peer.url, timeoutMs: 20_000 })
      assert.equal(done.role, 'peer')
      assert.equal(done.sha256, undefined, 'no whole-object hash was asked for')
      const wrong = 'cd'.repeat(32)
      const res = await fetch(`${peer.url}/v1/downloads`, { method: 'POST', headers: JSON_TYPE, body: JSON.stringify({ url: origin.url, sha256: wrong }) })
      assert.equal(res.status, 422)
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'SWARM_SHA256_MISMATCH')
      const again = await requestDownload(origin.url, { agent: peer.url, sha256: origin.sha256 })
      assert.equal(again.id, d.id)
      assert.equal((await getDownload(d.id, { agent: peer.url })).sha256, origin.sha256)
    })

    test('seeding stops after the seed time, the file stays served; DELETE removes the download and its files', async () => {
      const a = await agent('short-seed', { seedTimeMs: 300 })
      const d = await requestDownload(origin.url, { agent: a.url })
      await waitForDownload(d.id, { agent: a.url, timeoutMs: 20_000 })
      await waitFor(async () => (await getDownload(d.id, { agent: a.url })).state === 'done', { timeoutMs: 10_000, message: 'seeding stopped' })
      const info = await getDownload(d.id, { agent: a.url })
      assert.equal(info.seeding, false)
      const res = await fetchObject(origin.url, { agent: a.url, range: 'bytes=0-99' })
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), origin.body.subarray(0, 100))
      const del = await fetch(`${a.url}/v1/downloads/${d.id}`, { method: 'DELETE' })
      assert.equal(del.status, 200)
      assert.equal((await fetch(`${a.url}/v1/downloads/${d.id}`)).status, 404)
      await assert.rejects(stat(`${dir}/short-seed/objects/${info.key}`), { code: 'ENOENT' })
    })

    test('seeding stops once the seed ratio is reached', async () => {
      const o2 = await startOrigin({ size: 1024 * 1024, path: '/ratio/object.bin' })
      try {
        const allowHosts = [new URL(o2.url).host]
        const seeder = await agent('ratio-seeder', { seedRatio: 0.5, seedTimeMs: 600_000, allowHosts })
        const s = await requestDownload(o2.url, { agent: seeder.url })
        await waitForDownload(s.id, { agent: seeder.url, timeoutMs: 20_000 })
        assert.equal((await getDownload(s.id, { agent: seeder.url })).state, 'seeding')
        const leecher = await agent('ratio-leecher', { allowHosts })
        await waitForDownload((await requestDownload(o2.url, { agent: leecher.url })).id, { agent: leecher.url, timeoutMs: 20_000 })
        const after = await waitFor(async () => {
          const d = await getDownload(s.id, { agent: seeder.url })
          return d.state === 'done' ? d : undefined
        }, { timeoutMs: 10_000, message: 'seeder stopped at ratio 0.5' })
        assert.ok(after.bytes.uploaded >= 0.5 * o2.body.length, `uploaded ${after.bytes.uploaded}`)
      } finally {
        await o2.close()
      }
    })

    test('GET /v1/objects streams bytes while the leader is still fetching from the origin', async () => {
      const slowOrigin = await startOrigin({ size: 1536 * 1024, rate: 512 * 1024, path: '/slow/stream.bin' })
      try {
        const a = await agent('streamer', { allowHosts: [new URL(slowOrigin.url).host] })
        const res = await fetchObject(slowOrigin.url, { agent: a.url })
        assert.equal(res.status, 200)
        assert.equal(res.headers.get('content-length'), String(slowOrigin.body.length))
        const reader = (res.body as ReadableStream<Uint8Array>).getReader()
        const first = await reader.read()
        assert.ok(first.value && first.value.length > 0)
        const [d] = await listDownloads({ agent: a.url })
        assert.equal(d?.state, 'origin', 'first bytes arrived before the origin fetch finished')
        const chunks = [Buffer.from(first.value)]
        for (;;) {
          const { done, value } = await reader.read()
          if (done) break
          chunks.push(Buffer.from(value))
        }
        assert.equal(sha(Buffer.concat(chunks)), slowOrigin.sha256)
      } finally {
        await slowOrigin.close()
      }
    })

    test('hosts not allowed, other schemes and redirects off the list are refused; token guards mutations', async () => {
      const a = open[0] as Agent
      for (const url of ['http://example.com/x.bin', 'file:///etc/passwd', 'ftp://127.0.0.1/x']) {
        const res = await fetch(`${a.url}/v1/downloads`, { method: 'POST', headers: JSON_TYPE, body: JSON.stringify({ url }) })
        assert.equal(res.status, 403, url)
        assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'COLONY_FORBIDDEN_TARGET')
      }
      const obj = await fetch(`${a.url}/v1/objects?url=${encodeURIComponent('http://169.254.169.254/latest')}`)
      assert.equal(obj.status, 403)
      const redirect = await requestDownload(`http://${host}/go-away`, { agent: a.url })
      await assert.rejects(waitForDownload(redirect.id, { agent: a.url, timeoutMs: 10_000 }), (err: Error & { code?: string }) => err.code === 'COLONY_FORBIDDEN_TARGET')

      const guarded = await agent('guarded', { token: 's3cret' })
      const denied = await fetch(`${guarded.url}/v1/downloads`, { method: 'POST', headers: JSON_TYPE, body: JSON.stringify({ url: origin.url }) })
      assert.equal(denied.status, 401)
      assert.equal((await fetch(`${guarded.url}/v1/downloads`)).status, 200, 'reads stay open')
      const ok = await requestDownload(origin.url, { agent: guarded.url, token: 's3cret', sha256: origin.sha256 })
      assert.equal((await waitForDownload(ok.id, { agent: guarded.url, timeoutMs: 20_000 })).sha256, origin.sha256)
      const del = await fetch(`${guarded.url}/v1/downloads/${ok.id}`, { method: 'DELETE' })
      assert.equal(del.status, 401)
    })
  })
}

function parsedPiece(d: { length?: number }): number {
  // The resumed count is whole verified pieces; allow one piece of slack for a piece in flight at shutdown.
  let p = 16 * 1024
  while (p < 4 * 1024 * 1024 && (d.length ?? 0) / p > 1024) p *= 2
  return p
}
