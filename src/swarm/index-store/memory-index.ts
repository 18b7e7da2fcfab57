// The embedded index: a map plus a per-key queue of candidates, for agents sharing one process.
import { SwarmError } from '../errors.ts'
import type { Claim, ClaimOptions, IndexPeer, SwarmIndex } from './swarm-index.ts'

type Candidate = {
  id: number
  resolve: (claim: Claim) => void
  reject: (err: Error) => void
  elected: boolean
  cleanup: () => void
}

/** Creates an in-memory index. Share one instance between the agents of a process (demo, bench, tests). */
export function createMemoryIndex(): SwarmIndex {
  const torrents = new Map<string, Buffer>()
  const queues = new Map<string, Candidate[]>()
  const parts = new Map<string, Map<number, Buffer>>()
  const partWatchers = new Map<string, Set<(part: number, torrent: Buffer) => void>>()
  const peers = new Map<string, Map<string, IndexPeer>>()
  const peerWatchers = new Map<string, Set<(peer: IndexPeer) => void>>()
  let nextId = 1
  let closed = false

  const electHead = (key: string): void => {
    const queue = queues.get(key)
    const head = queue?.[0]
    if (!head || head.elected) return
    head.elected = true
    head.cleanup()
    let released = false
    const release = async (): Promise<void> => {
      if (released) return
      released = true
      const q = queues.get(key)
      if (!q) return
      const i = q.indexOf(head)
      if (i >= 0) q.splice(i, 1)
      if (q.length === 0) queues.delete(key)
      else electHead(key)
    }
    head.resolve({
      kind: 'leader',
      publish: async (torrent) => {
        torrents.set(key, torrent)
        const q = queues.get(key) ?? []
        for (const c of q) {
          if (c === head) continue
          c.cleanup()
          c.resolve({ kind: 'torrent', torrent })
        }
        queues.set(key, q.filter((c) => c === head))
      },
      publishPart: async (part, torrent) => {
        let m = parts.get(key)
        if (!m) { m = new Map(); parts.set(key, m) }
        m.set(part, torrent)
        for (const w of [...(partWatchers.get(key) ?? [])]) w(part, torrent)
      },
      release,
    })
  }

  return {
    kind: 'memory',
    lookup: async (key) => torrents.get(key),
    claim: (key: string, options: ClaimOptions) => new Promise<Claim>((resolve, reject) => {
      if (closed) { reject(new SwarmError('SWARM_INDEX_UNAVAILABLE', 'index is closed')); return }
      const torrent = torrents.get(key)
      if (torrent) { resolve({ kind: 'torrent', torrent }); return }
      if (options.signal?.aborted) { reject(options.signal.reason as Error); return }
      const onAbort = (): void => {
        const q = queues.get(key)
        const i = q?.indexOf(cand) ?? -1
        if (q && i >= 0) q.splice(i, 1)
        if (q?.length === 0) queues.delete(key)
        reject(options.signal?.reason as Error)
      }
      const cand: Candidate = {
        id: nextId++, resolve, reject, elected: false,
        cleanup: () => options.signal?.removeEventListener('abort', onAbort),
      }
      options.signal?.addEventListener('abort', onAbort, { once: true })
      const q = queues.get(key) ?? []
      q.push(cand)
      queues.set(key, q)
      electHead(key)
    }),
    lookupParts: async (key) => new Map(parts.get(key) ?? []),
    watchParts: async (key, onPart, signal) => {
      if (signal.aborted) return
      for (const [k, t] of parts.get(key) ?? []) onPart(k, t)
      let set = partWatchers.get(key)
      if (!set) { set = new Set(); partWatchers.set(key, set) }
      set.add(onPart)
      signal.addEventListener('abort', () => {
        set.delete(onPart)
        if (set.size === 0) partWatchers.delete(key)
      }, { once: true })
    },
    registerPeer: async (key, agentId, peer, signal) => {
      if (signal.aborted || closed) return
      let m = peers.get(key)
      if (!m) { m = new Map(); peers.set(key, m) }
      m.set(agentId, peer)
      for (const w of [...(peerWatchers.get(key) ?? [])]) w(peer)
      signal.addEventListener('abort', () => {
        const now = peers.get(key)
        if (now?.get(agentId) !== peer) return
        now.delete(agentId)
        if (now.size === 0) peers.delete(key)
      }, { once: true })
    },
    watchPeers: async (key, onPeer, signal) => {
      if (signal.aborted) return
      for (const p of peers.get(key)?.values() ?? []) onPeer(p)
      let set = peerWatchers.get(key)
      if (!set) { set = new Set(); peerWatchers.set(key, set) }
      set.add(onPeer)
      signal.addEventListener('abort', () => {
        set.delete(onPeer)
        if (set.size === 0) peerWatchers.delete(key)
      }, { once: true })
    },
    remove: async (key) => { torrents.delete(key); parts.delete(key) },
    close: async () => {
      closed = true
      for (const q of queues.values()) {
        for (const c of q) if (!c.elected) { c.cleanup(); c.reject(new SwarmError('SWARM_INDEX_UNAVAILABLE', 'index closed')) }
      }
      queues.clear()
    },
  }
}
