// Real etcd, real agent processes (`colony swarm agent`), two colony trackers: the fleet behaviours of issue 6.
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { execFile } from 'node:child_process'
import { readFile, rm } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { Etcd3 } from 'etcd3'
import { after, before, describe, test } from 'node:test'
import { freePort, makeTempDir, startEtcd, startProcess, stopProcess, waitFor, type Service } from '../../../support/services.ts'
import { getDownload, requestDownload, waitForDownload, type DownloadInfo } from '../../../src/swarm/index.ts'
import { startTracker, type Tracker } from '../../../src/swarm/tracker/start-tracker.ts'
import { INDEX_KEYS } from '../../../src/swarm/wire-format.ts'
import { startOrigin, type Origin } from '../swarm-fixtures.ts'

const BIN = fileURLToPath(new URL('../../../bin/colony.js', import.meta.url))

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr })
    })
  })
}

type AgentProc = { url: string; proc: ChildProcess; log: string[] }

describe('swarm fleet on etcd (agent processes)', { timeout: 150_000 }, () => {
  let etcd: Service
  let dir: string
  const trackers: Tracker[] = []
  const agents: AgentProc[] = []
  const origins: Origin[] = []
  const hosts: string[] = []

  const newOrigin = async (size: number, rate = 0): Promise<Origin> => {
    const o = await startOrigin({ size, rate, path: `/obj/${randomBytes(4).toString('hex')}.bin` })
    origins.push(o)
    return o
  }

  before(async () => {
    etcd = await startEtcd()
    dir = await makeTempDir('colony-swarm-fleet-')
    for (let i = 0; i < 2; i++) trackers.push(await startTracker({ port: 0, udpPort: false, intervalMs: 2000 }))
    // Origins are created per test on fresh ports; allow the loopback host on any port.
    hosts.push('127.0.0.1')
    for (let i = 0; i < 5; i++) agents.push(await spawnAgent(`agent${i}`))
  })

  const spawnAgent = async (name: string, extra: string[] = [], port?: number): Promise<AgentProc> => {
    port ??= await freePort()
    const args = [BIN, 'swarm', 'agent', '--api', `127.0.0.1:${port}`, '--listen', '0', '--data', `${dir}/${name}`,
      '--etcd', etcd.url, '--etcd-prefix', `test-${process.pid}/`, '--lease-ttl', '2s', '--seed-time', '10m', '--agent-id', name,
      // 1 MiB segments: objects above it are published progressively (a torrent per segment, then the whole).
      '--segment-size', '1MiB',
      // Fixed 1 MiB segments whatever the origin's rate: the failovers below stop the origin at segment boundaries.
      '--segment-time', '0',
      ...trackers.flatMap((t) => ['--tracker', t.httpAnnounceUrl]), ...hosts.flatMap((h) => ['--allow-host', h]), ...extra]
    const proc = await startProcess(process.execPath, args, { port, dir, env: { COLONY_LOG_LEVEL: process.env.SWARM_TEST_LOG ?? 'warn' } })
    const log: string[] = []
    proc.stderr?.on('data', (b: Buffer) => { log.push(b.toString()); if (log.length > 400) log.shift() })
    return { url: `http://127.0.0.1:${port}`, proc, log }
  }
  after(async () => {
    if (process.env.SWARM_TEST_LOG) for (const [i, a] of agents.entries()) process.stderr.write(`--- agent${i}\n${a.log.join('')}\n`)
    for (const a of agents) await stopProcess(a.proc)
    for (const t of trackers) await t.close().catch(() => undefined)
    for (const o of origins) await o.close()
    await etcd?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  const live = (): AgentProc[] => agents.filter((a) => a.proc.exitCode === null && a.proc.signalCode === null)

  const fetchAll = async (o: Origin, on: AgentProc[]): Promise<DownloadInfo[]> => {
    const started = await Promise.all(on.map((a) => requestDownload(o.url, { agent: a.url, sha256: o.sha256 })))
    return Promise.all(started.map((d, i) => waitForDownload(d.id, { agent: on[i]?.url as string, timeoutMs: 60_000 })))
  }

  test('five agents asking at once: exactly one origin download, everyone verified', async () => {
    const o = await newOrigin(6 * 1024 * 1024 + 4321)
    const done = await fetchAll(o, live())
    assert.equal(o.gets, 1, 'one GET at the origin')
    assert.equal(o.bytesSent, o.body.length, 'origin egress = object size')
    assert.equal(done.filter((d) => d.role === 'leader').length, 1)
    assert.equal(done.reduce((n, d) => n + d.bytes.fromOrigin, 0), o.body.length)
    for (const d of done) assert.equal(d.sha256, o.sha256)
    assert.equal(new Set(done.map((d) => d.infoHash)).size, 1, 'one torrent')
  })

  test('a changed object at the origin yields a new torrent', async () => {
    const o = await newOrigin(1024 * 1024)
    const on = live().slice(0, 2)
    const first = await fetchAll(o, on)
    o.setBody(randomBytes(1024 * 1024 + 99))
    const second = await fetchAll(o, on)
    assert.notEqual(second[0]?.infoHash, first[0]?.infoHash)
    assert.notEqual(second[0]?.key, first[0]?.key)
    assert.equal(o.gets, 2, 'one origin download per version')
    for (const d of second) assert.equal(d.sha256, o.sha256)
  })

  test('a tracker killed: agents announce to the other one and complete', async () => {
    const o = await newOrigin(3 * 1024 * 1024)
    await (trackers[0] as Tracker).close()
    const done = await fetchAll(o, live())
    assert.equal(o.gets, 1)
    const peers = done.filter((d) => d.role === 'peer')
    assert.equal(peers.length, live().length - 1)
    for (const d of peers) assert.ok(d.bytes.fromPeers >= o.body.length, 'got the bytes from peers via the surviving tracker')
  })

  test('an agent killed with SIGKILL mid-swarm resumes from its data dir on restart', async () => {
    const o = await newOrigin(4 * 1024 * 1024)
    const seeder = live()[0] as AgentProc
    await waitForDownload((await requestDownload(o.url, { agent: seeder.url })).id, { agent: seeder.url, timeoutMs: 30_000 })
    const port = await freePort()
    const slow = await spawnAgent('slow', ['--download-limit', '1MB/s'], port)
    agents.push(slow)
    const d = await requestDownload(o.url, { agent: slow.url, sha256: o.sha256 })
    await waitFor(async () => (await getDownload(d.id, { agent: slow.url })).bytes.done > 1024 * 1024, { timeoutMs: 30_000, message: '1 MiB on disk' })
    slow.proc.kill('SIGKILL')
    await new Promise((r) => slow.proc.once('exit', r))
    const again = await spawnAgent('slow', [], port)
    agents.push(again)
    const done = await waitForDownload(d.id, { agent: again.url, timeoutMs: 60_000 })
    assert.ok(done.bytes.resumed >= 512 * 1024, `resumed ${done.bytes.resumed} bytes`)
    assert.ok(done.bytes.fromPeers < o.body.length, 'only the missing part came from peers')
    assert.equal(done.sha256, o.sha256)
    assert.equal(o.gets, 1)
  })

  test('a follower frozen past its election lease campaigns again and completes (it is not failed)', async () => {
    // 8 MiB at 1 MB/s: the leader is still fetching when the follower wakes up with its lease (2 s) long expired.
    const o = await newOrigin(8 * 1024 * 1024, 1024 * 1024)
    const [leader, follower] = live() as [AgentProc, AgentProc]
    const first = await requestDownload(o.url, { agent: leader.url, sha256: o.sha256 })
    await waitFor(async () => (await getDownload(first.id, { agent: leader.url })).role === 'leader', { timeoutMs: 15_000, message: 'a leader' })
    const second = await requestDownload(o.url, { agent: follower.url, sha256: o.sha256 })
    const { agentId } = await (await fetch(`${follower.url}/healthz`)).json() as { agentId: string }
    const key = await waitFor(async () => (await getDownload(second.id, { agent: follower.url })).key, { timeoutMs: 15_000, message: 'the follower probed' })
    // The candidates of the key's election, by agent id (etcd3's Election: one key per campaign, valued its id).
    const etcdClient = new Etcd3({ hosts: etcd.url })
    const candidates = async (): Promise<string[]> => Object.values(await etcdClient.getAll().prefix(`test-${process.pid}/election/${INDEX_KEYS.election(key)}/`).strings())
    try {
      await waitFor(async () => (await candidates()).includes(agentId), { timeoutMs: 15_000, message: 'the follower campaigns' })
      follower.proc.kill('SIGSTOP')
      // Frozen, it misses its keep-alives: etcd drops its campaign once the lease (2 s) expires.
      await waitFor(async () => !(await candidates()).includes(agentId), { timeoutMs: 15_000, message: 'the frozen follower\'s lease expires' })
    } finally {
      follower.proc.kill('SIGCONT')
      etcdClient.close()
    }
    const [a, b] = await Promise.all([
      waitForDownload(first.id, { agent: leader.url, timeoutMs: 60_000 }),
      waitForDownload(second.id, { agent: follower.url, timeoutMs: 60_000 }),
    ])
    assert.equal(a.sha256, o.sha256)
    assert.equal(b.sha256, o.sha256)
    assert.equal(b.role, 'peer')
    assert.equal(o.gets, 1)
  })

  test('colony swarm get writes the verified file; status lists it; refusals exit 1', async () => {
    const o = await newOrigin(512 * 1024 + 3)
    const a = live()[0] as AgentProc
    const out = `${dir}/got.bin`
    const get = await run([BIN, 'swarm', 'get', o.url, '-o', out, '--agent', a.url, '--sha256', o.sha256, '-q'])
    assert.equal(get.code, 0, get.stderr)
    assert.match(get.stderr, /wrote .*got\.bin/)
    assert.deepEqual(await readFile(out), o.body)
    const status = await run([BIN, 'swarm', 'status', '--agent', a.url])
    assert.equal(status.code, 0, status.stderr)
    assert.match(status.stdout, new RegExp(`seeding.*${o.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))
    const refused = await run([BIN, 'swarm', 'get', 'http://example.com/x.bin', '-o', `${dir}/no.bin`, '--agent', a.url, '-q'])
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /COLONY_FORBIDDEN_TARGET/)
    const usage = await run([BIN, 'swarm', 'get', '--agent', a.url])
    assert.equal(usage.code, 2)
  })

  test('the leader killed mid-download: its lease expires, another agent continues from the first unpublished segment', async () => {
    const o = await newOrigin(3 * 1024 * 1024, 1024 * 1024)
    // The origin stops just past the first 1 MiB segment until the leader is dead: the segment is published,
    // the followers take their time to fetch it, the second one is never complete at the dying leader.
    o.holdAt = 1024 * 1024 + 256 * 1024
    const on = live().slice(0, 3)
    const started = await Promise.all(on.map((a) => requestDownload(o.url, { agent: a.url, sha256: o.sha256 })))
    const leaderAt = await waitFor(async () => {
      const infos = await Promise.all(on.map((a, i) => getDownload(started[i]?.id as string, { agent: a.url })))
      const leader = infos.findIndex((d) => d.state === 'origin')
      const followersHaveIt = infos.every((d, i) => i === leader || d.bytes.done >= 1024 * 1024)
      return leader >= 0 && followersHaveIt ? leader + 1 : 0
    }, { timeoutMs: 30_000, intervalMs: 100, message: 'a leader fetching from the origin, its first segment with every follower' })
    const victim = on[leaderAt - 1] as AgentProc
    victim.proc.kill('SIGKILL')
    await new Promise((r) => victim.proc.once('exit', r))
    o.resume()
    const rest = on.filter((a) => a !== victim)
    const done = await Promise.all(rest.map((a) => waitForDownload(started[on.indexOf(a)]?.id as string, { agent: a.url, timeoutMs: 60_000 })))
    assert.equal(o.gets, 2, 'the dead leader\'s partial GET plus the new leader\'s')
    assert.equal(done.filter((d) => d.role === 'leader').length, 1)
    const successor = done.find((d) => d.role === 'leader')
    assert.ok((successor?.bytes.fromOrigin ?? 0) <= o.body.length - 1024 * 1024, `the successor fetched ${successor?.bytes.fromOrigin} bytes: not the published first segment`)
    for (const d of done) assert.equal(d.sha256, o.sha256)
  })

  test('the leader killed while its followers are mid-way through a segment: they finish it from the successor', async () => {
    const o = await newOrigin(3 * 1024 * 1024, 1024 * 1024)
    // Segments 0 (256 KiB) and 1 (1 MiB) are fetched and published, then the origin waits for the leader's death.
    o.holdAt = 1024 * 1024 + 256 * 1024
    const followers = [await spawnAgent('mid-a', ['--download-limit', '256KB/s']), await spawnAgent('mid-b', ['--download-limit', '256KB/s'])]
    agents.push(...followers)
    const leader = live()[0] as AgentProc
    const led = await requestDownload(o.url, { agent: leader.url, sha256: o.sha256 })
    await waitFor(async () => (await getDownload(led.id, { agent: leader.url })).state === 'origin', { timeoutMs: 15_000, message: 'the first agent elected' })
    const started = await Promise.all(followers.map((a) => requestDownload(o.url, { agent: a.url, sha256: o.sha256 })))
    // Slow followers (256 KB/s: 4 s for segment 1, several of the agent's 1 s status polls) are caught part-way
    // through segment 1: some of it on disk, not all.
    let seen = ''
    await waitFor(async () => {
      const infos = await Promise.all(followers.map((a, i) => getDownload(started[i]?.id as string, { agent: a.url })))
      seen = infos.map((d) => `${d.state}/${d.role}/${d.bytes.done}`).join(' ')
      return infos.some((d) => d.bytes.done > 256 * 1024) && infos.every((d) => d.bytes.done < 1024 * 1024 + 256 * 1024)
    }, { timeoutMs: 30_000, intervalMs: 50, message: 'a follower part-way through segment 1' }).catch((err: Error) => {
      throw new Error(`${err.message}; followers last seen ${seen}`)
    })
    leader.proc.kill('SIGKILL')
    await new Promise((r) => leader.proc.once('exit', r))
    o.resume()
    const done = await Promise.all(followers.map((a, i) => waitForDownload(started[i]?.id as string, { agent: a.url, timeoutMs: 90_000 })))
    assert.equal(done.filter((d) => d.role === 'leader').length, 1, 'one follower took over')
    assert.equal(o.gets, 2, 'the dead leader\'s GET plus the successor\'s')
    for (const d of done) assert.equal(d.sha256, o.sha256)
  })
})
