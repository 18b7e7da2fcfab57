// The tracker against real clients: bittorrent-tracker's stock client over HTTP
// and UDP, stock aria2c peers that can only meet through it, and the `colony swarm tracker` command.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes, createHash } from 'node:crypto'
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Client as AnnounceClient } from 'bittorrent-tracker'
import { runSwarmDemo } from '../../src/demo/swarm.ts'
import { startTracker, type Tracker } from '../../src/swarm/tracker/start-tracker.ts'
import { createTorrentFile, startAria2Peer, writeCompletionHook, type Aria2Peer } from '../../support/aria2-peer.ts'
import { makeTempDir, stopProcess, waitFor } from '../../support/services.ts'

function destroy(client: AnnounceClient): Promise<void> {
  return new Promise((resolve) => client.destroy(() => resolve()))
}

describe('swarm tracker', { timeout: 120_000 }, () => {
  let tracker: Tracker

  before(async () => { tracker = await startTracker({ intervalMs: 5_000 }) })
  after(async () => { await tracker.close() })

  test('binds loopback and serves /healthz, /metrics and a JSON 404', async () => {
    assert.match(tracker.url, /^http:\/\/127\.0\.0\.1:\d+$/)
    assert.equal(tracker.udpAnnounceUrl, `udp://127.0.0.1:${tracker.udpPort}`)
    const health = await fetch(`${tracker.url}/healthz`)
    assert.equal(health.status, 200)
    const body = await health.json() as Record<string, unknown>
    assert.equal(body.ok, true)
    assert.equal(typeof body.torrents, 'number')
    const metrics = await (await fetch(`${tracker.url}/metrics`)).text()
    assert.match(metrics, /colony_swarm_tracker_torrents \d+/)
    const missing = await fetch(`${tracker.url}/nope`)
    assert.equal(missing.status, 404)
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'SWARM_TRACKER_NOT_FOUND')
    // A malformed announce gets a bencoded failure, not a crash.
    const bad = await (await fetch(`${tracker.url}/announce?info_hash=short`)).text()
    assert.match(bad, /failure reason/)
  })

  test('peers announcing over HTTP and over UDP are handed to each other', async () => {
    const infoHash = randomBytes(20).toString('hex')
    const a = new AnnounceClient({ infoHash, peerId: randomBytes(20).toString('hex'), announce: [tracker.httpAnnounceUrl], port: 40001 })
    const b = new AnnounceClient({ infoHash, peerId: randomBytes(20).toString('hex'), announce: [tracker.udpAnnounceUrl ?? ''], port: 40002 })
    const errors: string[] = []
    for (const c of [a, b]) { c.on('error', (e: Error) => errors.push(e.message)); c.on('warning', (e: Error) => errors.push(e.message)) }
    const aPeers = new Set<string>()
    const bPeers = new Set<string>()
    a.on('peer', (addr: string) => aPeers.add(addr))
    b.on('peer', (addr: string) => bPeers.add(addr))
    try {
      a.start()
      await waitFor(() => tracker.stats().leechers >= 1, { message: 'HTTP announce seen' })
      b.start()
      await waitFor(() => bPeers.has('127.0.0.1:40001'), { message: 'UDP client got the HTTP peer' })
      a.update()
      await waitFor(() => aPeers.has('127.0.0.1:40002'), { message: 'HTTP client got the UDP peer' })
      assert.deepEqual(errors, [])
      const metrics = await (await fetch(`${tracker.url}/metrics`)).text()
      assert.match(metrics, /colony_swarm_tracker_announces_total\{event="start",transport="http"\} [1-9]/)
      assert.match(metrics, /colony_swarm_tracker_announces_total\{event="start",transport="udp"\} [1-9]/)
      assert.match(metrics, /colony_swarm_tracker_peers\{state="leecher"\} [2-9]/)
    } finally {
      await Promise.all([destroy(a), destroy(b)])
    }
  })

  test('a seeder is handed only leechers, never itself; a leecher gets everyone else', async () => {
    const infoHash = randomBytes(20)
    const announce = async (port: number, left: number): Promise<number[]> => {
      const q = (b: Buffer): string => [...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('')
      const peerId = Buffer.from(`-CO0001-${String(port).padStart(12, '0')}`)
      const url = `${tracker.httpAnnounceUrl}?info_hash=${q(infoHash)}&peer_id=${q(peerId)}&port=${port}&uploaded=0&downloaded=0&left=${left}&compact=1&numwant=50&event=started`
      const body = Buffer.from(await (await fetch(url)).arrayBuffer())
      const at = body.indexOf('5:peers')
      assert.ok(at >= 0, `a peer list in ${body.toString('latin1')}`)
      const colon = body.indexOf(':', at + 7)
      const len = Number(body.subarray(at + 7, colon).toString())
      const peers = body.subarray(colon + 1, colon + 1 + len)
      const ports: number[] = []
      for (let i = 0; i + 6 <= peers.length; i += 6) ports.push(peers.readUInt16BE(i + 4))
      return ports.sort()
    }
    assert.deepEqual(await announce(41001, 0), [], 'the first seeder: nobody else yet, not itself')
    assert.deepEqual(await announce(41002, 0), [], 'a second seeder does not get the first')
    assert.deepEqual(await announce(41003, 1000), [41001, 41002], 'a leecher gets both seeders')
    assert.deepEqual(await announce(41004, 1000), [41001, 41002, 41003], 'and the other leechers')
    assert.deepEqual(await announce(41001, 0), [41003, 41004], 'a seeder re-announcing gets the leechers only')
  })

  // aria2 speaks UDP trackers only with its DHT socket on; DHT finds nothing here (no bootstrap nodes, loopback only).
  for (const transport of ['http', 'udp'] as const) {
    test(`two aria2c peers meet only through the tracker (${transport})`, { timeout: 60_000 }, async (t) => {
      const dir = await makeTempDir('colony-tracker-aria2-')
      const peers: Aria2Peer[] = []
      t.after(async () => { await Promise.all(peers.map((p) => p.stop())); await rm(dir, { recursive: true, force: true }) })
      const seedDir = path.join(dir, 'seed')
      await mkdir(seedDir)
      const body = randomBytes(3 * 1024 * 1024 + 12345)
      await writeFile(path.join(seedDir, 'object.bin'), body)
      const announce = transport === 'http' ? tracker.httpAnnounceUrl : tracker.udpAnnounceUrl ?? ''
      const torrent = await createTorrentFile(path.join(seedDir, 'object.bin'), path.join(dir, 'object.torrent'), announce, 64 * 1024)
      const hook = await writeCompletionHook(dir)
      const before = tracker.stats().seeders
      peers.push(await startAria2Peer({ torrentPath: torrent, dir: seedDir, seed: true, onCompleteScript: hook, dht: transport === 'udp' }))
      await waitFor(() => tracker.stats().seeders > before, { timeoutMs: 15_000, message: 'aria2 seeder announced' })
      const leechDir = path.join(dir, 'leech')
      peers.push(await startAria2Peer({ torrentPath: torrent, dir: leechDir, seed: false, onCompleteScript: hook, dht: transport === 'udp' }))
      await waitFor(async () => { try { return (await stat(path.join(leechDir, 'object.bin.done'))).isFile() } catch { return false } }, { timeoutMs: 30_000, message: 'aria2 leecher complete' })
      const got = await readFile(path.join(leechDir, 'object.bin'))
      assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(body).digest('hex'))
    })
  }
})

test('colony swarm tracker prints its announce URLs, serves, and stops on SIGTERM', { timeout: 30_000 }, async () => {
  const bin = new URL('../../bin/colony.js', import.meta.url).pathname
  const proc = spawn(process.execPath, [bin, 'swarm', 'tracker', '--port', '0', '--interval', '5s'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, COLONY_LOG_LEVEL: 'warn' } })
  try {
    let out = ''
    let err = ''
    proc.stdout.on('data', (b: Buffer) => { out += b.toString() })
    proc.stderr.on('data', (b: Buffer) => { err += b.toString() })
    const lines = await waitFor(() => {
      if (proc.exitCode !== null) throw new Error(`exited ${proc.exitCode}: ${err}`)
      const l = out.split('\n').filter(Boolean)
      return l.length >= 2 ? l : undefined
    }, { message: 'announce URLs on stdout' })
    assert.match(lines[0] ?? '', /^http:\/\/127\.0\.0\.1:\d+\/announce$/)
    assert.match(lines[1] ?? '', /^udp:\/\/127\.0\.0\.1:\d+$/)
    const base = (lines[0] ?? '').replace(/\/announce$/, '')
    assert.equal((await fetch(`${base}/healthz`)).status, 200)
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)))
    proc.kill('SIGTERM')
    assert.equal(await exited, 0)
  } finally {
    await stopProcess(proc)
  }
})

test('colony swarm tracker refuses a bad port with exit 2', { timeout: 30_000 }, async () => {
  const bin = new URL('../../bin/colony.js', import.meta.url).pathname
  const proc = spawn(process.execPath, [bin, 'swarm', 'tracker', '--port', '70000'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  proc.stderr.on('data', (b: Buffer) => { err += b.toString() })
  const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)))
  assert.equal(code, 2, err)
  assert.match(err, /--port wants a port/)
})

test('the swarm demo completes with one of its two trackers stopped, one origin download', { timeout: 180_000 }, async () => {
  const lines: string[] = []
  const result = await runSwarmDemo({ agents: 3, size: 4 * 1024 * 1024 + 17, log: (l) => lines.push(l), timeoutMs: 150_000 })
  assert.ok(lines.some((l) => l.includes('stopped tracker')), lines.join('\n'))
  assert.equal(result.ok, true, lines.join('\n'))
  assert.ok(result.originEgressRatio >= 1 && result.originEgressRatio <= 1.05, `origin egress ratio ${result.originEgressRatio}`)
  assert.match(lines.at(-1) ?? '', /origin egress ratio 1\.0\d\d/)
})
