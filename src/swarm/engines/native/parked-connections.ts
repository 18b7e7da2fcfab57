// Incoming connections for a torrent this agent has not added yet. A follower that learns of a new segment a moment
// before another (the index tells the fleet one agent at a time) dials a peer that does not have the torrent yet;
// refused, that connection would be wasted and the peer would have to dial back. It waits here for its torrent instead.
import type net from 'node:net'
import { SWARM_DEFAULTS } from '../../defaults.ts'

/** What waits: at least its socket (closed when the wait ends without a torrent). */
export type ParkedConnection = { socket: net.Socket }

export type ParkedConnectionsOptions = {
  /** How long a connection waits for its torrent. @defaultValue SWARM_DEFAULTS.parked.waitMs */
  waitMs?: number
  /** Connections waiting at most, in all (each holds a socket). @defaultValue SWARM_DEFAULTS.parked.max */
  max?: number
  /** Connections waiting for one torrent at most. @defaultValue SWARM_DEFAULTS.parked.maxPerTorrent */
  maxPerTorrent?: number
}

export class ParkedConnections<C extends ParkedConnection> {
  readonly #waitMs: number
  readonly #max: number
  readonly #maxPerTorrent: number
  readonly #byTorrent = new Map<string, Map<C, NodeJS.Timeout>>()
  #count = 0

  constructor(options: ParkedConnectionsOptions = {}) {
    this.#waitMs = options.waitMs ?? SWARM_DEFAULTS.parked.waitMs
    this.#max = options.max ?? SWARM_DEFAULTS.parked.max
    this.#maxPerTorrent = options.maxPerTorrent ?? SWARM_DEFAULTS.parked.maxPerTorrent
  }

  /** Connections waiting now. */
  get size(): number { return this.#count }

  /** Keeps `c` until `take(infoHash)` or its wait ends (then its socket is destroyed); full: destroyed at once. */
  park(infoHash: string, c: C): void {
    const waiting = this.#byTorrent.get(infoHash) ?? new Map<C, NodeJS.Timeout>()
    if (this.#count >= this.#max || waiting.size >= this.#maxPerTorrent) { c.socket.destroy(); return }
    this.#byTorrent.set(infoHash, waiting)
    const timer = setTimeout(() => { this.#forget(infoHash, c); c.socket.destroy() }, this.#waitMs)
    timer.unref()
    waiting.set(c, timer)
    this.#count++
    c.socket.once('close', () => this.#forget(infoHash, c))
  }

  /** The connections still open that wait for `infoHash`; they are no longer parked. */
  take(infoHash: string): C[] {
    const waiting = this.#byTorrent.get(infoHash)
    if (!waiting) return []
    const out = [...waiting.keys()]
    for (const c of out) this.#forget(infoHash, c)
    return out.filter((c) => !c.socket.destroyed)
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
