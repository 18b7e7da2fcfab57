// What one remote peer may hold of the native engine: a slot only while it is of use, a few connections per IP,
// a share of the encrypted handshakes per second; and where the BitTorrent listener binds.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rm } from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { AGENT_SPEC, peerOptionsFrom } from '../../../src/cli/swarm-command.ts'
import { parseCommand } from '../../../src/shared/cli-options.ts'
import type { EngineOptions, SwarmEngine } from '../../../src/swarm/engines/engine.ts'
import { startNativeEngine } from '../../../src/swarm/engines/native/engine.ts'
import { SWARM_DEFAULTS } from '../../../src/swarm/defaults.ts'
import type { PeerDropReason } from '../../../src/swarm/engines/native/peer-limits.ts'
import type { ProtocolErrorReason } from '../../../src/swarm/engines/native/wire/wire-guard.ts'
import { makeTempDir, waitFor } from '../../../support/services.ts'
import { startTracker, type Tracker } from '../swarm-fixtures.ts'
import { closedWithin, engineOptions, handshake, makeObject, message, rawPeer, sha256, startSeed, u32, whenDone, type RawPeer, type TestObject } from './wire/wire-fixtures.ts'

const HANDSHAKE_BYTES = 68

/** The events an engine reported, by kind. */
function recorder(): { errors: ProtocolErrorReason[]; drops: PeerDropReason[]; count(r: PeerDropReason): number; events: NonNullable<EngineOptions['peerEvents']> } {
  const errors: ProtocolErrorReason[] = []
  const drops: PeerDropReason[] = []
  return {
    errors, drops,
    count: (r) => drops.filter((d) => d === r).length,
    events: { protocolError: (r) => errors.push(r), dropped: (r) => drops.push(r) },
  }
}

/** Opens `n` connections that complete the handshake and then say nothing; resolves with those the engine answered. */
async function squat(port: number, infoHash: string, n: number): Promise<{ answered: RawPeer[]; refused: RawPeer[] }> {
  const peers = await Promise.all(Array.from({ length: n }, () => rawPeer(port)))
  for (const p of peers) p.send(handshake(infoHash))
  const answered: RawPeer[] = []
  const refused: RawPeer[] = []
  await Promise.all(peers.map(async (p) => {
    try { await p.waitBytes(HANDSHAKE_BYTES, 5000); answered.push(p) } catch { refused.push(p) }
  }))
  return { answered, refused }
}

describe('native engine: peer limits', { timeout: 60_000 }, () => {
  let dir: string
  let obj: TestObject
  let tracker: Tracker
  const engines: SwarmEngine[] = []
  const sockets: RawPeer[] = []

  before(async () => {
    dir = await makeTempDir('colony-peer-limits-')
    tracker = await startTracker()
    obj = await makeObject(300 * 1024)
  })
  after(async () => {
    for (const s of sockets) s.close()
    for (const e of engines) await e.close()
    await tracker.close()
    await rm(dir, { recursive: true, force: true })
  })
  const seed = async (extra: Partial<EngineOptions>, o = obj): Promise<SwarmEngine> => {
    const { engine } = await startSeed(dir, o, extra)
    engines.push(engine)
    return engine
  }

  test('70 squatters (a handshake, then silence): 64 take the slots, 6 wait in line for the slots the idle free', async () => {
    const r = recorder()
    const engine = await seed({ peerEvents: r.events, peerLimits: { idleMs: 1500 } })
    const peers = await Promise.all(Array.from({ length: 70 }, () => rawPeer(engine.port)))
    sockets.push(...peers)
    const started = performance.now()
    for (const p of peers) p.send(handshake(obj.infoHash))
    const answered = (): RawPeer[] => peers.filter((p) => p.received().length >= HANDSHAKE_BYTES)
    await waitFor(() => answered().length >= 64, { timeoutMs: 5000, message: '64 squatters answered' })
    // The slots free only as their squatters reach the idle limit, 1.5 s away.
    assert.equal(r.count('idle'), 0, 'no squatter idle yet')
    assert.equal(answered().length, 64, 'the torrent took as many peers as it has slots')
    const waiting = peers.filter((p) => !answered().includes(p))
    assert.equal(waiting.filter((p) => p.isClosed()).length, 0, 'the other 6 wait in line')
    await Promise.all(waiting.map((p) => p.waitBytes(HANDSHAKE_BYTES, 5000)))
    const ms = performance.now() - started
    assert.ok(ms >= 1000, `the line was answered after ${ms.toFixed(0)} ms, before the idle limit freed a slot`)
    await Promise.all(peers.map((p) => closedWithin(p, 6000, 'a squatter')))
    assert.equal(r.count('idle'), 70)
    assert.equal(r.count('torrent_full'), 0)
  })

  test('a full line refuses at once; a slot that frees goes to the line; a wait that ends is counted', async () => {
    const r = recorder()
    const engine = await seed({ peerEvents: r.events, peerLimits: { maxPeersPerTorrent: 2 } })
    const holders = await Promise.all([rawPeer(engine.port), rawPeer(engine.port)])
    sockets.push(...holders)
    for (const p of holders) p.send(handshake(obj.infoHash))
    await Promise.all(holders.map((p) => p.waitBytes(HANDSHAKE_BYTES, 3000)))
    // The line is as long as the torrent has slots: two wait, the next two are refused.
    const line = await Promise.all([rawPeer(engine.port), rawPeer(engine.port)])
    const late = await Promise.all([rawPeer(engine.port), rawPeer(engine.port)])
    sockets.push(...line, ...late)
    for (const p of line) p.send(handshake(obj.infoHash))
    await waitFor(() => line.every((p) => p.received().length === 0) && r.count('torrent_full') === 0, { timeoutMs: 1000, message: 'the line formed' })
    for (const p of late) p.send(handshake(obj.infoHash))
    await Promise.all(late.map((p) => closedWithin(p, 3000, 'a connection beyond the line')))
    assert.equal(r.count('torrent_full'), 2)
    holders[0]?.close()
    await waitFor(() => line.filter((p) => p.received().length >= HANDSHAKE_BYTES).length === 1, { timeoutMs: 3000, message: 'one of the line answered' })
    // The other waits out SWARM_DEFAULTS.parked.waitMs and is closed, counted as refused.
    const still = line.find((p) => p.received().length === 0) as RawPeer
    await closedWithin(still, SWARM_DEFAULTS.parked.waitMs + 3000, 'the connection left in line')
    assert.equal(r.count('torrent_full'), 3)
  })

  test('a peer of use (interested) keeps its slot past the idle limit', async () => {
    const r = recorder()
    const engine = await seed({ peerEvents: r.events, peerLimits: { idleMs: 300 } })
    const p = await rawPeer(engine.port)
    sockets.push(p)
    p.send(handshake(obj.infoHash))
    p.send(message(2))
    const idle = await rawPeer(engine.port)
    sockets.push(idle)
    idle.send(handshake(obj.infoHash))
    await closedWithin(idle, 3000, 'the idle peer')
    // A second squatter is closed an idle limit later: the interested peer has outlived two eviction passes.
    const idle2 = await rawPeer(engine.port)
    sockets.push(idle2)
    idle2.send(handshake(obj.infoHash))
    await closedWithin(idle2, 3000, 'the second idle peer')
    // And it is still served: a block it asks for comes back.
    const had = p.received().length
    p.send(message(6, u32(0, 0, 16 * 1024)))
    await p.waitBytes(had + 13 + 16 * 1024)
    assert.equal(p.isClosed(), false)
    assert.equal(r.count('idle'), 2)
  })

  test('a real download completes while 70 squatters take every slot they can, again and again', async () => {
    const r = recorder()
    // Its own object, announced: the seed below is the only peer that has it.
    const own = await makeObject(2 * 1024 * 1024 + 777, 64 * 1024, [tracker.announce])
    const engine = await seed({ peerEvents: r.events, peerLimits: { idleMs: 800 } }, own)
    let stop = false
    const holders = new Set<RawPeer>()
    const keepSquatting = async (): Promise<void> => {
      while (!stop) {
        const { answered, refused } = await squat(engine.port, own.infoHash, 1).catch(() => ({ answered: [], refused: [] }))
        for (const x of refused) x.close()
        const p = answered[0]
        if (!p) { await new Promise((resolve) => setTimeout(resolve, 20)); continue }
        holders.add(p)
        await p.closed
        holders.delete(p)
      }
    }
    const squatters = Array.from({ length: 70 }, () => keepSquatting())
    const leecherDir = path.join(dir, `leech-${randomBytes(3).toString('hex')}`)
    let timer: NodeJS.Timeout | undefined
    try {
      await waitFor(() => holders.size >= 64, { timeoutMs: 10_000, message: 'squatters hold every slot' })
      await mkdir(leecherDir, { recursive: true })
      const leecher = await startNativeEngine(engineOptions(dir))
      engines.push(leecher)
      const t = await leecher.add(own.torrent, own.infoHash, { dir: leecherDir, complete: false, trackers: [] })
      const deadline = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('no download within 45 s while squatters hold the slots')), 45_000) })
      await Promise.race([whenDone(t), deadline])
    } finally {
      clearTimeout(timer)
      stop = true
      for (const p of holders) p.close()
      await Promise.all(squatters)
    }
    assert.equal(sha256(await readFile(path.join(leecherDir, 'obj.bin'))), sha256(own.data))
    assert.ok(r.count('idle') > 0, 'squatters were evicted')
  })

  test('the per-IP cap refuses connections beyond it (counted), and counts a closed one out', async () => {
    const r = recorder()
    const engine = await seed({ peerEvents: r.events, peerLimits: { maxPerIp: 3, perIpExempt: [] } })
    const peers = await Promise.all(Array.from({ length: 5 }, () => rawPeer(engine.port)))
    sockets.push(...peers)
    await waitFor(() => peers.filter((p) => p.isClosed()).length === 2, { timeoutMs: 3000, message: 'two connections refused' })
    assert.equal(r.count('per_ip'), 2)
    const open = peers.filter((p) => !p.isClosed())
    assert.equal(open.length, 3)
    open[0]?.close()
    await waitFor(async () => {
      const again = await rawPeer(engine.port)
      sockets.push(again)
      again.send(handshake(obj.infoHash))
      try { await again.waitBytes(HANDSHAKE_BYTES, 1000); return true } catch { return false }
    }, { timeoutMs: 3000, message: 'a connection accepted once one closed' })
    // Loopback is exempt by default: a fleet of agents on one host shares 127.0.0.1.
    assert.deepEqual(SWARM_DEFAULTS.peerLimits.perIpExempt, ['127.0.0.1', '::1'])
  })

  test('encrypted handshakes beyond the rate are refused before any Diffie-Hellman work', async () => {
    const r = recorder()
    // One token (the burst) and the next in 100 s: however slowly a busy machine runs the six handshakes, none
    // refills the bucket during the test.
    const engine = await seed({ peerEvents: r.events, peerLimits: { encryptedPerSecond: 0.01 } })
    const peers = await Promise.all(Array.from({ length: 6 }, () => rawPeer(engine.port)))
    sockets.push(...peers)
    // A public key below the MSE prime (which starts with 0xff…): the engine answers with its own (96 bytes or more).
    for (const p of peers) p.send(Buffer.concat([Buffer.from([1]), randomBytes(95)]))
    const answered = await Promise.all(peers.map(async (p) => { try { await p.waitBytes(96, 3000); return true } catch { return false } }))
    assert.equal(answered.filter(Boolean).length, 1)
    assert.equal(r.count('encrypted_rate'), 5)
    assert.deepEqual(r.errors, [])
  })

  test('--peer-host binds the BitTorrent listener to one address; by default it listens on all', async () => {
    const bound = await startNativeEngine(engineOptions(dir, { peerHost: '127.0.0.1' }))
    engines.push(bound)
    const everywhere = await startNativeEngine(engineOptions(dir))
    engines.push(everywhere)
    const reach = (host: string, port: number): Promise<boolean> => new Promise((resolve) => {
      const s = net.connect({ host, port }, () => { s.destroy(); resolve(true) })
      s.on('error', () => resolve(false))
    })
    assert.equal(await reach('127.0.0.1', bound.port), true)
    // 127.0.0.2 is loopback too, but not the address the listener was bound to.
    assert.equal(await reach('127.0.0.2', bound.port), false)
    assert.equal(await reach('127.0.0.2', everywhere.port), true)
  })
})

describe('colony swarm agent --peer-* flags', () => {
  test('flags beat COLONY_SWARM_PEER_* beat the defaults', () => {
    const p = parseCommand(AGENT_SPEC, ['--peer-host', '10.0.0.5', '--peer-max-per-ip', '4', '--peer-ip-cap-exempt', 'none'], {
      COLONY_SWARM_PEER_IDLE_TIMEOUT: '5s', COLONY_SWARM_PEER_MAX_PER_IP: '9', COLONY_SWARM_PEER_ENCRYPTED_RATE: '0',
    })
    assert.deepEqual(peerOptionsFrom(p), {
      peerHost: '10.0.0.5',
      peerLimits: { idleMs: 5000, maxPerIp: 4, maxPeersPerTorrent: 64, encryptedPerSecond: 0, handshakeTimeoutMs: 10_000, perIpExempt: [] },
    })
    const d = peerOptionsFrom(parseCommand(AGENT_SPEC, [], {}))
    assert.equal(d.peerHost, undefined)
    assert.deepEqual(d.peerLimits, { ...SWARM_DEFAULTS.peerLimits })
    assert.throws(() => peerOptionsFrom(parseCommand(AGENT_SPEC, ['--peer-max-per-ip', '0'], {})), { code: 'COLONY_USAGE' })
    assert.throws(() => peerOptionsFrom(parseCommand(AGENT_SPEC, ['--peer-encrypted-rate', '1.5'], {})), { code: 'COLONY_USAGE' })
  })
})
