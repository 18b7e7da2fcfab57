// Incoming connections whose handshake named a torrent that cannot take them yet. Two cases:
// - the agent has not added the torrent: a follower that learns of a new segment a moment before another (the index
//   tells the fleet one agent at a time) dials a peer that does not have the torrent yet; refused, that connection
//   would be wasted and the peer would have to dial back;
// - the torrent has all its peer slots taken: the connection waits in line for the next slot that frees. Refused
//   instead, a real peer dialling every few seconds loses every race for a freed slot to squatters that reconnect at
//   once; in line, it waits behind the few connections that arrived before it.
// Each waits here, oldest first, until the torrent takes it or its wait ends.
import type net from 'node:net'
import { SWARM_DEFAULTS } from '../../defaults.ts'

/** What waits: at least its socket (closed when the wait ends without a torrent). */
export type ParkedConnection = { socket: net.Socket }

export type ParkedConnectionsOptions<C> = {
  /** How long a connection waits for its torrent. @defaultValue SWARM_DEFAULTS.parked.waitMs */
  waitMs?: number
  /** Connections waiting at most, in all (each holds a socket). @defaultValue SWARM_DEFAULTS.parked.max */
  max?: number
  /** Connections waiting for one torrent at most. @defaultValue SWARM_DEFAULTS.parked.maxPerTorrent */
  maxPerTorrent?: number
  /** Called for a connection whose wait ended before a torrent took it, as its socket is destroyed. */
  expired?: (c: C) => void
}

export class ParkedConnections<C extends ParkedConnection> {
  readonly #waitMs: number
  readonly #max: number
  readonly #maxPerTorrent: number
  readonly #expired: (c: C) => void
  readonly #byTorrent = new Map<string, Map<C, NodeJS.Timeout>>()
  #count = 0

  constructor(options: ParkedConnectionsOptions<C> = {}) {
    this.#waitMs = options.waitMs ?? SWARM_DEFAULTS.parked.waitMs
    this.#max = options.max ?? SWARM_DEFAULTS.parked.max
    this.#maxPerTorrent = options.maxPerTorrent ?? SWARM_DEFAULTS.parked.maxPerTorrent
    this.#expired = options.expired ?? ((): void => undefined)
  }

  /** Connections waiting now. */
  get size(): number { return this.#count }

  /** Connections waiting for `infoHash` now. */
  waitingFor(infoHash: string): number { return this.#byTorrent.get(infoHash)?.size ?? 0 }

  /**
   * Keeps `c` until `take(infoHash)` or its wait ends (then its socket is destroyed); true if kept. Full (in all, or
   * for this torrent): destroyed at once, false.
   */
  park(infoHash: string, c: C): boolean {
    const waiting = this.#byTorrent.get(infoHash) ?? new Map<C, NodeJS.Timeout>()
    if (this.#count >= this.#max || waiting.size >= this.#maxPerTorrent) { c.socket.destroy(); return false }
    this.#byTorrent.set(infoHash, waiting)
    const timer = setTimeout(() => { this.#forget(infoHash, c); this.#expired(c); c.socket.destroy() }, this.#waitMs)
    timer.unref()
    waiting.set(c, timer)
    this.#count++
    c.socket.once('close', () => this.#forget(infoHash, c))
    return true
  }

  /** Up to `n` of the connections still open that wait for `infoHash`, oldest first; they are no longer parked. */
  take(infoHash: string, n = Number.POSITIVE_INFINITY): C[] {
    const waiting = this.#byTorrent.get(infoHash)
    const out: C[] = []
    if (!waiting) return out
    for (const c of [...waiting.keys()]) {
      if (out.length >= n) break
      this.#forget(infoHash, c)
      if (!c.socket.destroyed) out.push(c)
    }
    return out
  }

  #forget(infoHash: string, c: C): void {
    const waiting = this.#byTorrent.get(infoHash)
    const timer = waiting?.get(c)
    if (!waiting || timer === undefined) return
    clearTimeout(timer)
    waiting.delete(c)
    this.#count--
    if (waiting.size === 0) this.#byTorrent.delete(infoHash)
  }
}
