// The distributed index: torrents under <prefix>torrents/<key>, one etcd election per key for the origin fetch.
import { randomBytes } from 'node:crypto'
import { Etcd3, type Campaign, type Lease, type Namespace, type Watcher } from 'etcd3'
import { SWARM_DEFAULTS } from '../defaults.ts'
import { SwarmError } from '../errors.ts'
import { formatIndexPeer, INDEX_KEYS, parseIndexPeer } from '../wire-format.ts'
import type { Claim, ClaimOptions, SwarmIndex } from './swarm-index.ts'

export type EtcdIndexOptions = {
  /** etcd client URLs. */
  hosts: string[]
  /** Key prefix shared by all agents of one fleet. @defaultValue SWARM_DEFAULTS.etcd.prefix ('colony/swarm/') */
  prefix?: string
  /**
   * Lease TTL of a campaign in seconds: how long a dead leader blocks its key before the next
   * candidate takes over. @defaultValue SWARM_DEFAULTS.etcd.leaseTtlSeconds (5)
   */
  leaseTtlSeconds?: number
  /** Per-call gRPC deadline in ms. @defaultValue SWARM_DEFAULTS.etcd.timeoutMs (5000) */
  timeoutMs?: number
}

/** A failed campaign is retried this often, for this long, before the claim fails. */
const CAMPAIGN_RETRY_MS = 500
const CAMPAIGN_GIVE_UP_MS = 30_000
/** Longest the start-up warm-up may take (an unreachable etcd). */
const WARM_UP_MS = 3000

/** Connects to etcd (in the background); an unreachable etcd surfaces on the first claim. */
export function createEtcdIndex(options: EtcdIndexOptions): SwarmIndex {
  const timeoutMs = options.timeoutMs ?? SWARM_DEFAULTS.etcd.timeoutMs
  const client = new Etcd3({ hosts: options.hosts, dialTimeout: timeoutMs })
  const ns: Namespace = client.namespace(options.prefix ?? SWARM_DEFAULTS.etcd.prefix)
  const ttl = options.leaseTtlSeconds ?? SWARM_DEFAULTS.etcd.leaseTtlSeconds
  const { torrent: torrentKey, partPrefix, part: partKey, partOf } = INDEX_KEYS
  const live = new Set<() => void>()
  // One lease for every peer entry of this agent (not one per object): its keep-alives cost the same however many
  // objects the agent serves, and its entries go with it when it dies. A lost lease (etcd unreachable past the
  // TTL) takes the entries with it; the next registration grants a new one.
  let lease: Lease | undefined
  const peerLease = (): Lease => {
    if (lease) return lease
    const l = ns.lease(ttl)
    l.on('lost', () => { if (lease === l) lease = undefined })
    lease = l
    return l
  }
  // Opens the gRPC channel (and loads its code) now, not on the first request: a fleet asked for one object at
  // once otherwise spends its first second or two connecting, every agent at the same moment. Errors here are
  // ignored; an unreachable etcd still surfaces on the first claim.
  void ns.get('ping').string().catch(() => undefined)

  const wrap = (err: unknown): SwarmError =>
    err instanceof SwarmError ? err : new SwarmError('SWARM_INDEX_UNAVAILABLE', `etcd: ${(err as Error).message}`, { cause: err })

  const lookup = async (key: string): Promise<Buffer | undefined> => {
    try {
      return (await ns.get(torrentKey(key)).buffer()) ?? undefined
    } catch (err) { throw wrap(err) }
  }

  const claim = (key: string, options2: ClaimOptions): Promise<Claim> => new Promise<Claim>((resolve, reject) => {
    let settled = false
    let watcher: Watcher | undefined
    let campaign: Campaign | undefined
    const cleanupWait = (): void => {
      options2.signal?.removeEventListener('abort', onAbort)
      live.delete(onClose)
      if (watcher) void watcher.cancel().catch(() => undefined)
    }
    const fail = (err: unknown): void => {
      if (settled) return
      settled = true
      cleanupWait()
      if (campaign) void campaign.resign().catch(() => undefined)
      reject(err instanceof Error && err.name === 'AbortError' ? err : wrap(err))
    }
    const giveTorrent = (torrent: Buffer): void => {
      if (settled) return
      settled = true
      cleanupWait()
      if (campaign) void campaign.resign().catch(() => undefined)
      resolve({ kind: 'torrent', torrent })
    }
    const onAbort = (): void => fail(options2.signal?.reason)
    const onClose = (): void => fail(new SwarmError('SWARM_INDEX_UNAVAILABLE', 'index closed'))
    options2.signal?.addEventListener('abort', onAbort, { once: true })
    live.add(onClose)

    const onElected = async (): Promise<void> => {
      // The previous leader may have published and resigned between our watch and our election.
      let existing: Buffer | undefined
      try { existing = await lookup(key) } catch (err) { fail(err); return }
      if (settled) return
      if (existing) { giveTorrent(existing); return }
      settled = true
      cleanupWait()
      const held = campaign
      let released = false
      resolve({
        kind: 'leader',
        publish: async (torrent) => {
          try { await ns.put(torrentKey(key)).value(torrent) } catch (err) { throw wrap(err) }
        },
        publishPart: async (part, torrent) => {
          try { await ns.put(partKey(key, part)).value(torrent) } catch (err) { throw wrap(err) }
        },
        release: async () => {
          if (released) return
          released = true
          await held?.resign().catch(() => undefined)
        },
      })
    }

    const start = async (): Promise<void> => {
      // Watch before reading so a publish between the read and the watch cannot be missed.
      const w = await ns.watch().key(torrentKey(key)).create()
      if (settled) { await w.cancel().catch(() => undefined); return }
      watcher = w
      watcher.on('put', (kv) => giveTorrent(Buffer.from(kv.value)))
      watcher.on('error', () => undefined)
      const existing = await lookup(key)
      if (existing) { giveTorrent(existing); return }
      if (settled) return
      runCampaign()
    }
    // A campaign ends in an error when its lease lapses: a process short of CPU misses its keep-alives (16 agents
    // on 2 cores, a follower at 95 %). Waiting is not over then — the watch still stands — so campaign again;
    // only errors that persist for CAMPAIGN_GIVE_UP_MS (etcd gone) fail the claim. A retried campaign that lived
    // longer than a failing one can (lease TTL + the dial timeout) is healthy: a later lapse starts a new streak.
    let failingSince = 0
    let lastError = 0
    const healthyAfterMs = ttl * 1000 + timeoutMs + CAMPAIGN_RETRY_MS
    const runCampaign = (): void => {
      const c = ns.election(INDEX_KEYS.election(key), ttl).campaign(options2.candidate)
      campaign = c
      c.on('elected', () => { void onElected() })
      c.on('error', (err) => {
        if (settled || campaign !== c) return
        const now = Date.now()
        if (now - lastError > healthyAfterMs) failingSince = now
        lastError = now
        if (now - failingSince >= CAMPAIGN_GIVE_UP_MS) { fail(err); return }
        setTimeout(() => { if (!settled && campaign === c) runCampaign() }, CAMPAIGN_RETRY_MS).unref()
      })
    }
    start().catch(fail)
  })

  return {
    kind: 'etcd',
    lookup,
    claim,
    lookupParts: async (key) => {
      try {
        const all = await ns.getAll().prefix(partPrefix(key)).buffers()
        return new Map(Object.entries(all).map(([k, v]) => [partOf(k), v]))
      } catch (err) { throw wrap(err) }
    },
    watchParts: async (key, onPart, signal) => {
      try {
        // Watch before reading, as in claim(): a part published in between arrives through the watch.
        const w = await ns.watch().prefix(partPrefix(key)).create()
        const stop = (): void => { void w.cancel().catch(() => undefined) }
        if (signal.aborted) { stop(); return }
        signal.addEventListener('abort', stop, { once: true })
        live.add(stop)
        w.on('put', (kv) => onPart(partOf(kv.key.toString()), Buffer.from(kv.value)))
        w.on('error', () => undefined)
        const all = await ns.getAll().prefix(partPrefix(key)).buffers()
        for (const [k, v] of Object.entries(all)) onPart(partOf(k), v)
      } catch (err) { throw wrap(err) }
    },
    registerPeer: async (key, agentId, peer, signal) => {
      if (signal.aborted) return
      const name = INDEX_KEYS.peer(key, agentId)
      const drop = (): void => { live.delete(drop); void ns.delete().key(name).catch(() => undefined) }
      signal.addEventListener('abort', drop, { once: true })
      live.add(drop)
      // Best effort: an etcd that cannot take it only costs the fleet this route to the agent.
      try { await peerLease().put(name).value(formatIndexPeer(peer)) } catch { /* see above */ }
    },
    watchPeers: async (key, onPeer, signal) => {
      const take = (value: Buffer): void => { const p = parseIndexPeer(value); if (p) onPeer(p) }
      try {
        const w = await ns.watch().prefix(INDEX_KEYS.peerPrefix(key)).create()
        const stop = (): void => { void w.cancel().catch(() => undefined) }
        if (signal.aborted) { stop(); return }
        signal.addEventListener('abort', stop, { once: true })
        live.add(stop)
        w.on('put', (kv) => take(kv.value))
        w.on('error', () => undefined)
        for (const v of Object.values(await ns.getAll().prefix(INDEX_KEYS.peerPrefix(key)).buffers())) take(v)
      } catch (err) { throw wrap(err) }
    },
    warmUp: async (candidate) => {
      // The gRPC client builds each message type's decoder on first use (protobufjs codegen): at the first claim
      // that is ~0.2–0.4 s of CPU per agent, every agent of a fleet at the same moment. A private election and a
      // watch on a private key build them now; their keys are gone (resigned, deleted) when this returns.
      const name = INDEX_KEYS.warmUp(candidate, randomBytes(4).toString('hex'))
      const work = async (): Promise<void> => {
        // A plain read first: an etcd that is not there fails it at once, before a watch or a campaign would wait.
        await ns.get(name).string()
        const w = await ns.watch().key(name).create()
        try {
          const seen = new Promise<void>((resolve) => w.once('put', () => resolve()))
          const c = ns.election(name, ttl).campaign(candidate)
          // `on`, not `once`: a campaign may emit more than one error, and an unheard one would end the process.
          await new Promise<void>((resolve, reject) => { c.once('elected', () => resolve()); c.on('error', reject) })
          await ns.put(name).value('warm')
          await seen
          await ns.getAll().prefix(name).buffers()
          await c.resign()
        } finally {
          await w.cancel()
          await ns.delete().key(name)
        }
      }
      // An etcd that does not answer soon is the first claim's to report, not the start-up's.
      const timer = new Promise<void>((resolve) => setTimeout(resolve, WARM_UP_MS).unref())
      await Promise.race([work().catch(() => undefined), timer])
    },
    remove: async (key) => {
      try {
        await ns.delete().key(torrentKey(key))
        await ns.delete().prefix(partPrefix(key))
      } catch (err) { throw wrap(err) }
    },
    close: async () => {
      for (const f of [...live]) f()
      await lease?.revoke().catch(() => undefined)
      client.close()
    },
  }
}
