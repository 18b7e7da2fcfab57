// Seeded fuzzing of a running agent's BitTorrent listener: hundreds of malformed conversations (bad bencode,
// __proto__/toString/constructor keys, huge and negative indexes, 2–4 GB length prefixes, oversize bitfields,
// random bytes, truncated messages, broken MSE handshakes), then a second agent downloads the object from it and
// gets the right bytes. FUZZ_SEED=<n> replays a run; the seed is printed with every failure.
import { createRandom } from '../../../../src/shared/seeded-random.ts'
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { Counter } from 'prom-client'
import { createMemoryIndex, fetchTorrent, requestDownload, startAgent, waitForDownload, type Agent } from '../../../../src/swarm/index.ts'
import { parseTorrentFile } from '../../../../src/swarm/torrent-file.ts'
import { makeTempDir } from '../../../../support/services.ts'
import { startOrigin, startTracker, type Origin, type Tracker } from '../../swarm-fixtures.ts'
import { extended, handshake, message, rawPeer, u32 } from './wire-fixtures.ts'

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31))
const CASES = 400
const PARALLEL = 16
/** How long a case waits for the agent to close the connection before closing it itself. */
const CASE_MS = 250


type Torrent = { infoHash: string; pieces: number; pieceLength: number }

/** The malformed conversations, drawn from `rnd`. Each returns the bytes to send, in order. */
function generators(rnd: () => number, t: Torrent): (() => Buffer[])[] {
  const int = (n: number): number => Math.floor(rnd() * n)
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(256)))
  const hs = (): Buffer => handshake(t.infoHash)
  const wild = (): number => pick([0, 1, t.pieces - 1, t.pieces, t.pieces + 1, t.pieceLength, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, int(2 ** 32), -1])
  const KEYS = ['__proto__', 'toString', 'constructor', 'hasOwnProperty', 'valueOf', 'm', 'v', 'p', 'reqq', 'ut_metadata', 'metadata_size']
  const str = (s: string): string => `${Buffer.byteLength(s)}:${s}`
  const value = (depth: number): string => {
    const k = depth > 3 ? int(3) : int(6)
    if (k === 0) return `i${pick(['0', '-1', '1', '99999999999999999999999', '-0', '', 'x', '1.5'])}e`
    if (k === 1) return pick([str(pick(KEYS)), `${int(99)}:`, '-3:abc', '999999999:x', '0:'])
    if (k === 2) return pick(['', 'i1'])
    if (k === 3) return `l${Array.from({ length: int(4) }, () => value(depth + 1)).join('')}e`
    return `d${Array.from({ length: int(4) }, () => str(pick(KEYS)) + value(depth + 1)).join('')}${pick(['e', 'e', ''])}`
  }
  return [
    // Extended handshakes: random bencode around hostile keys, sometimes truncated.
    () => { const s = `d1:m${value(0)}${str(pick(KEYS))}${value(1)}e`; return [hs(), extended(0, s.slice(0, rnd() < 0.2 ? int(s.length) : s.length))] },
    () => [hs(), extended(0, `d1:md${str(pick(KEYS))}d${str(pick(KEYS))}i1eeee`)],
    () => [hs(), extended(int(256), bytes(int(64)))],
    // Indexes, offsets and lengths anywhere.
    () => [hs(), message(4, u32(wild()))],
    () => [hs(), message(pick([6, 8, 0x10]), u32(wild(), wild(), wild()))],
    () => [hs(), message(7, u32(wild(), wild()), bytes(int(2000)))],
    () => [hs(), message(pick([0x0d, 0x11]), u32(wild()))],
    // Length prefixes of 2–4 GB, just past the cap, or random.
    () => [hs(), u32(pick([0x80000000, 0xffffffff, 0xfffffff0, 1024 * 1024 + 65, int(2 ** 32)])), bytes(int(64))],
    // Bitfields too large, too small, with spare bits.
    () => [hs(), message(5, bytes(pick([0, 1, Math.ceil(t.pieces / 8) + 1, 4096, int(1024 * 1024)])))],
    () => [hs(), message(5, Buffer.alloc(Math.ceil(t.pieces / 8), 0xff))],
    // Random bytes after a good handshake, before one, or instead of one (the MSE path).
    () => [hs(), bytes(1 + int(8192))],
    () => [bytes(1 + int(600))],
    () => [pick([Buffer.alloc(96), Buffer.alloc(96, 0xff), Buffer.concat([Buffer.from([1]), bytes(95)])]), bytes(int(700))],
    () => [Buffer.concat([Buffer.from([19]), bytes(67)])],
    // Truncated messages: the prefix promises more than comes.
    () => { const m = message(pick([4, 5, 6, 7, 20]), bytes(4 + int(40))); return [hs(), m.subarray(0, 1 + int(m.length - 1))] },
    // Valid but pointless chatter, then garbage of known ids with the wrong length.
    () => [hs(), ...Array.from({ length: int(50) }, () => pick([u32(0), message(2), message(3), message(int(256), bytes(int(16)))]))],
    () => [hs(), message(pick([0, 1, 2, 3, 9]), bytes(1 + int(8)))],
  ]
}

/** Sends one conversation; the agent may close it at any point. */
async function play(port: number, parts: Buffer[]): Promise<void> {
  const p = await rawPeer(port).catch(() => undefined)
  if (!p) return
  for (const b of parts) p.send(b)
  await Promise.race([p.closed, new Promise((resolve) => setTimeout(resolve, CASE_MS))])
  p.close()
}

describe(`BitTorrent wire fuzzing of a running agent (FUZZ_SEED=${SEED})`, { timeout: 60_000 }, () => {
  let dir: string
  let origin: Origin
  let tracker: Tracker
  const agents: Agent[] = []

  before(async () => {
    dir = await makeTempDir('colony-wire-fuzz-')
    origin = await startOrigin({ size: 2 * 1024 * 1024 + 4321 })
    tracker = await startTracker()
    const index = createMemoryIndex()
    for (const name of ['target', 'downloader']) {
      agents.push(await startAgent({
        engine: 'native', dataDir: path.join(dir, name), index, trackers: [tracker.announce], allowHosts: [new URL(origin.url).host],
        resume: false, peerLimits: { encryptedPerSecond: 1000 },
      }))
    }
  })
  after(async () => {
    for (const a of agents) await a.close()
    await tracker.close()
    await origin.close()
    await rm(dir, { recursive: true, force: true })
  })

  test(`${CASES} malformed conversations close their own connections; the agent then serves the object intact`, async (t) => {
    t.diagnostic(`FUZZ_SEED=${SEED}`)
    const started = performance.now()
    const [target, downloader] = agents as [Agent, Agent]
    const first = await requestDownload(origin.url, { agent: target.url, sha256: origin.sha256 })
    await waitForDownload(first.id, { agent: target.url, timeoutMs: 15_000 })
    const parsed = await parseTorrentFile(await fetchTorrent(origin.url, { agent: target.url }))
    const torrent: Torrent = { infoHash: parsed.infoHash, pieces: parsed.pieces.length, pieceLength: parsed.pieceLength }

    const rnd = createRandom(SEED)
    const gens = generators(rnd, torrent)
    const cases = Array.from({ length: CASES }, () => (gens[Math.floor(rnd() * gens.length)] as () => Buffer[])())
    for (let i = 0; i < cases.length; i += PARALLEL) {
      await Promise.all(cases.slice(i, i + PARALLEL).map((parts) => play(target.torrentPort, parts)))
    }

    const errors = await (target.registry.getSingleMetric('colony_swarm_peer_protocol_errors_total') as Counter).get()
    const counted = errors.values.reduce((n, v) => n + v.value, 0)
    t.diagnostic(`protocol errors by reason: ${errors.values.map((v) => `${String(v.labels.reason)}=${v.value}`).join(' ')}`)
    assert.ok(counted >= CASES / 4, `FUZZ_SEED=${SEED}: only ${counted} of ${CASES} conversations were counted as protocol errors`)

    // The agent still serves the object: another agent downloads it from this one, byte-exact.
    const second = await requestDownload(origin.url, { agent: downloader.url, sha256: origin.sha256 })
    const done = await waitForDownload(second.id, { agent: downloader.url, timeoutMs: 15_000 })
    assert.equal(done.sha256, origin.sha256, `FUZZ_SEED=${SEED}: the download after fuzzing has the wrong bytes`)
    assert.equal(done.bytes.fromOrigin, 0, `FUZZ_SEED=${SEED}: the second agent went to the origin instead of the fuzzed peer`)
    assert.equal(origin.gets, 1)
    const seconds = (performance.now() - started) / 1000
    assert.ok(seconds < 30, `FUZZ_SEED=${SEED}: the run took ${seconds.toFixed(1)} s`)
  })
})
