// The native engine's announce client against colony's own tracker (HTTP and UDP), a tracker that is down or
// silent, and a hostile HTTP tracker: every failure is a warning, the other trackers keep working.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import dgram from 'node:dgram'
import { createServer, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { AnnounceClient, type AnnounceClientOptions } from '../../../src/swarm/engines/native/announce/announce-client.ts'
import { startTracker, type Tracker } from '../../../src/swarm/index.ts'
import { waitFor } from '../../../support/services.ts'

type Probe = { client: AnnounceClient; peers: Set<string>; warnings: string[] }

const clients: AnnounceClient[] = []

function announcer(infoHash: string, port: number, announce: string[], extra: Partial<AnnounceClientOptions> = {}): Probe {
  const client = new AnnounceClient({
    infoHash, peerId: randomBytes(20).toString('hex'), port, announce,
    getAnnounceOpts: () => ({ uploaded: 0, downloaded: 0, left: 1000 }), ...extra,
  })
  const probe: Probe = { client, peers: new Set(), warnings: [] }
  client.on('peer', (a) => probe.peers.add(a))
  client.on('warning', (e) => probe.warnings.push(e.message))
  client.on('error', (e) => probe.warnings.push(`error: ${e.message}`))
  clients.push(client)
  return probe
}

/** A peer list of one IPv4 peer, compact (BEP 23). */
function compactPeer(a: number, b: number, c: number, d: number, port: number): Buffer {
  const buf = Buffer.from([a, b, c, d, 0, 0])
  buf.writeUInt16BE(port, 4)
  return buf
}

describe('announce client', { timeout: 60_000 }, () => {
  let tracker: Tracker
  let tracker2: Tracker
  let hostile: Server
  let hostileBase: string
  let silentUdp: dgram.Socket
  const open = new Set<Socket>()

  before(async () => {
    tracker = await startTracker({ intervalMs: 5_000 })
    tracker2 = await startTracker({ intervalMs: 5_000 })
    silentUdp = dgram.createSocket('udp4')
    await new Promise<void>((resolve) => silentUdp.bind(0, '127.0.0.1', resolve))
    hostile = createServer((req, res) => {
      const route = new URL(req.url ?? '/', 'http://x').pathname
      const send = (body: Buffer | string): void => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end(body) }
      if (route === '/garbage') send('d8:intervali5e5:peers')
      else if (route === '/notdict') send('li1ei2ee')
      else if (route === '/deep') send('l'.repeat(100_000) + 'e'.repeat(100_000))
      else if (route === '/huge') send(Buffer.concat([Buffer.from('d5:peers2000000:'), Buffer.alloc(2_000_000), Buffer.from('e')]))
      else if (route === '/proto') send(Buffer.concat([Buffer.from('d9:__proto__d8:pollutedi1ee11:constructori1e8:intervali60e5:peers6:'), compactPeer(10, 9, 8, 7, 4242), Buffer.from('e')]))
      else if (route === '/failure') send('d14:failure reason12:go away, nowe')
      else if (route === '/badpeers') send('d5:peers5:abcdee')
      else if (route === '/status') { res.writeHead(500); res.end('d14:failure reason4:oopse') }
      else if (route === '/slow') { res.writeHead(200); res.write('d8:interval') } // never ends
      else { res.writeHead(404); res.end() }
    })
    hostile.on('connection', (s) => { open.add(s); s.on('close', () => open.delete(s)) })
    await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve))
    hostileBase = `http://127.0.0.1:${(hostile.address() as AddressInfo).port}`
  })

  after(async () => {
    for (const c of clients) c.destroy()
    for (const s of open) s.destroy()
    await new Promise<void>((resolve) => hostile.close(() => resolve()))
    silentUdp.close()
    await tracker.close()
    await tracker2.close()
  })

  test('two clients find each other over HTTP and over UDP', async () => {
    const infoHash = randomBytes(20).toString('hex')
    const a = announcer(infoHash, 41001, [tracker.httpAnnounceUrl])
    const b = announcer(infoHash, 41002, [tracker.udpAnnounceUrl ?? ''])
    a.client.start()
    await waitFor(() => tracker.stats().leechers >= 1, { timeoutMs: 5000, message: 'HTTP announce seen' })
    b.client.start()
    await waitFor(() => b.peers.has('127.0.0.1:41001'), { timeoutMs: 5000, message: 'UDP client got the HTTP peer' })
    a.client.update()
    await waitFor(() => a.peers.has('127.0.0.1:41002'), { timeoutMs: 5000, message: 'HTTP client got the UDP peer' })
    // A second UDP announce reuses the connection id; 'completed' is an event the tracker counts.
    b.client.complete()
    await waitFor(() => tracker.stats().seeders >= 1, { timeoutMs: 5000, message: 'completed seen over UDP' })
    assert.deepEqual([...a.warnings, ...b.warnings], [])
    // stop() announces 'stopped': the tracker forgets both.
    a.client.stop()
    b.client.stop()
    await waitFor(() => tracker.stats().leechers === 0 && tracker.stats().seeders === 0, { timeoutMs: 5000, message: 'stopped seen' })
  })

  test('a tracker that is down or silent delays no other', async () => {
    const infoHash = randomBytes(20).toString('hex')
    const dead = await new Promise<number>((resolve) => {
      const s = createServer()
      s.listen(0, '127.0.0.1', () => { const p = (s.address() as AddressInfo).port; s.close(() => resolve(p)) })
    })
    const silent = `udp://127.0.0.1:${(silentUdp.address() as AddressInfo).port}`
    const down = [`http://127.0.0.1:${dead}/announce`, silent, 'ws://127.0.0.1:1/announce', 'not a url']
    const a = announcer(infoHash, 41011, [...down, tracker.httpAnnounceUrl], { limits: { timeoutMs: 10_000, udpRetransmitMs: 200 } })
    const b = announcer(infoHash, 41012, [...down, tracker2.udpAnnounceUrl ?? '', tracker.udpAnnounceUrl ?? ''])
    a.client.start()
    await waitFor(() => tracker.stats().leechers >= 1, { timeoutMs: 2000, message: 'announce through the live tracker' })
    b.client.start()
    // Well inside the silent tracker's 10 s deadline.
    await waitFor(() => b.peers.has('127.0.0.1:41011'), { timeoutMs: 2000, message: 'peer found through the live tracker' })
    await waitFor(() => a.warnings.length >= 3, { timeoutMs: 2000, message: 'warnings for the dead, ws and bad URLs' })
    assert.ok(a.warnings.some((w) => w.includes(`127.0.0.1:${dead}`)), a.warnings.join('\n'))
    assert.ok(a.warnings.some((w) => w.includes('unsupported tracker protocol ws:')), a.warnings.join('\n'))
    assert.ok(a.warnings.some((w) => w.includes('not a URL')), a.warnings.join('\n'))
  })

  test('a silent UDP tracker times out into a warning', async () => {
    const silent = `udp://127.0.0.1:${(silentUdp.address() as AddressInfo).port}`
    const a = announcer(randomBytes(20).toString('hex'), 41021, [silent], { limits: { timeoutMs: 600, udpRetransmitMs: 100 } })
    let received = 0
    const count = (): void => { received++ }
    silentUdp.on('message', count)
    try {
      a.client.start()
      await waitFor(() => a.warnings.length >= 1, { timeoutMs: 3000, message: 'timeout warning' })
      assert.match(a.warnings[0] ?? '', /no answer/)
      assert.ok(received >= 2 && received <= 6, `connect sent ${received} times (retransmitted, bounded)`)
    } finally { silentUdp.off('message', count) }
  })

  test('a hostile HTTP tracker gets warnings, no crash, and the other tracker still works', async () => {
    const infoHash = randomBytes(20).toString('hex')
    const routes = ['garbage', 'notdict', 'deep', 'huge', 'proto', 'failure', 'badpeers', 'status', 'slow']
    const urls = routes.map((r) => `${hostileBase}/${r}`)
    const limits = { timeoutMs: 1000 }
    const a = announcer(infoHash, 41031, [...urls, tracker.httpAnnounceUrl], { limits })
    const b = announcer(infoHash, 41032, [...urls, tracker.httpAnnounceUrl], { limits })
    a.client.start()
    await waitFor(() => tracker.stats().leechers >= 1, { timeoutMs: 2000, message: 'a announced' })
    b.client.start()
    await waitFor(() => b.peers.has('127.0.0.1:41031'), { timeoutMs: 2000, message: 'peer found through the good tracker' })
    // Every hostile route but /proto (a valid answer with odd keys) ends in a warning naming it.
    await waitFor(() => routes.filter((r) => r !== 'proto').every((r) => b.warnings.some((w) => w.includes(`/${r}:`))), { timeoutMs: 5000, message: `warnings: ${b.warnings.join('\n')}` })
    const of = (r: string): string => b.warnings.find((w) => w.includes(`/${r}:`)) ?? ''
    assert.match(of('failure'), /failure reason: go away, now/)
    assert.match(of('huge'), /larger than 1048576 bytes/)
    assert.match(of('status'), /HTTP status 500, failure reason: oops/)
    assert.match(of('badpeers'), /not a multiple of 6/)
    assert.match(of('deep'), /nesting too deep/)
    assert.match(of('slow'), /abort|timeout/i)
    assert.ok(!b.warnings.some((w) => w.includes('/proto:')), b.warnings.join('\n'))
    assert.ok(b.peers.has('10.9.8.7:4242'), 'the __proto__ answer is read as data')
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
  })

  test('compact IPv6 peers become "[ip]:port"', async () => {
    const v6 = Buffer.alloc(18)
    v6.writeUInt16BE(0xfe80, 0)
    v6[15] = 1
    v6.writeUInt16BE(6881, 16)
    const server = createServer((_req, res) => { res.end(Buffer.concat([Buffer.from('d8:intervali60e6:peers618:'), v6, Buffer.from('5:peersld2:ip3:::14:porti7eed2:ip4:host4:porti8eeee')])) })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const a = announcer(randomBytes(20).toString('hex'), 41041, [`http://127.0.0.1:${(server.address() as AddressInfo).port}/announce`])
      a.client.start()
      await waitFor(() => a.peers.size >= 2, { timeoutMs: 3000, message: 'peers' })
      assert.deepEqual([...a.peers].sort(), ['[::1]:7', '[fe80::1]:6881'])
      assert.deepEqual(a.warnings, [])
      a.client.destroy()
    } finally {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })
})
