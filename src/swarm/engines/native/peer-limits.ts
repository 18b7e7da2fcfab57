// What the native engine lets one remote peer hold: incoming connections per IP address, encrypted handshakes per
// second (each costs a Diffie-Hellman key pair and shared secret, ~26× the CPU of a plain handshake), a peer slot
// only while the connection is of use. Without them, 70 handshakes that never send anything else hold all 64 slots
// of a torrent.
import type net from 'node:net'
import { SWARM_DEFAULTS } from '../../defaults.ts'
import { SwarmError } from '../../errors.ts'
import { TokenBucket } from '../../token-bucket.ts'
import type { ProtocolErrorReason } from './wire/wire-guard.ts'

/** Defaults: SWARM_DEFAULTS.peerLimits. */
export type PeerLimits = {
  /**
   * A peer connection of no use for this long is closed: neither side interested, no block in flight or queued.
   * A peer that wants pieces, or has pieces this agent wants, stays.
   */
  idleMs: number
  /** Connections per torrent; a new one takes the slot of a peer idle for a while, if any. */
  maxPeersPerTorrent: number
  /** Open incoming connections from one IP address, in any state, all torrents together. */
  maxPerIp: number
  /**
   * Addresses the per-IP cap does not count: loopback, because a fleet of agents on one host (tests, the bench)
   * shares 127.0.0.1, and only local processes can connect from it.
   */
  perIpExempt: string[]
  /** Encrypted (MSE/PE) handshakes accepted per second, all peers together; 0 refuses them all. */
  encryptedPerSecond: number
  /** Time a connection has to complete its BitTorrent handshake. */
  handshakeTimeoutMs: number
}

export function resolvePeerLimits(partial: Partial<PeerLimits> = {}): PeerLimits {
  const defaults = SWARM_DEFAULTS.peerLimits
  const limits: PeerLimits = { ...defaults, ...partial, perIpExempt: [...(partial.perIpExempt ?? defaults.perIpExempt)] }
  for (const key of ['idleMs', 'maxPeersPerTorrent', 'maxPerIp', 'handshakeTimeoutMs'] as const) {
    if (!(Number.isFinite(limits[key]) && limits[key] > 0)) throw new SwarmError('SWARM_BAD_REQUEST', `peer limit ${key} must be > 0, got ${limits[key]}`)
  }
  if (!(Number.isFinite(limits.encryptedPerSecond) && limits.encryptedPerSecond >= 0)) throw new SwarmError('SWARM_BAD_REQUEST', `peer limit encryptedPerSecond must be ≥ 0, got ${limits.encryptedPerSecond}`)
  return limits
}

/** The address without the IPv4-mapped prefix a dual-stack listener reports ('::ffff:10.0.0.5' → '10.0.0.5'). */
export function plainIp(address: string | undefined): string {
  const a = address ?? '?'
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a
}

/**
 * Why a peer connection was turned away or closed (the `reason` label of colony_swarm_peer_dropped_total):
 * 'per_ip' — its IP is at limits.maxPerIp; 'encrypted_rate' — an encrypted handshake beyond
 * limits.encryptedPerSecond; 'torrent_full' — the torrent has limits.maxPeersPerTorrent peers and none idle;
 * 'idle' — of no use for limits.idleMs (or for a while, when a new connection needed its slot).
 */
export type PeerDropReason = 'per_ip' | 'encrypted_rate' | 'torrent_full' | 'idle'

/** What the native engine reports about the peers it refuses or closes (the agent counts them in its metrics). */
export type PeerEvents = {
  protocolError(reason: ProtocolErrorReason): void
  dropped(reason: PeerDropReason): void
}

/** Admission of incoming connections: the per-IP cap and the rate of encrypted handshakes. */
export class PeerAdmission {
  readonly #limits: PeerLimits
  readonly #exempt: Set<string>
  readonly #perIp = new Map<string, number>()
  readonly #encrypted: TokenBucket | undefined

  constructor(limits: PeerLimits) {
    this.#limits = limits
    this.#exempt = new Set(limits.perIpExempt.map(plainIp))
    const rate = limits.encryptedPerSecond
    this.#encrypted = rate > 0 ? new TokenBucket({ rate, burst: Math.max(1, rate) }) : undefined
  }

  /** Open incoming connections counted for `ip`. */
  connectionsFrom(ip: string): number { return this.#perIp.get(plainIp(ip)) ?? 0 }

  /** Counts `socket` against its IP until it closes; false (not counted) if the IP is at its cap. */
  admit(socket: net.Socket): boolean {
    const ip = plainIp(socket.remoteAddress)
    if (this.#exempt.has(ip)) return true
    const n = this.#perIp.get(ip) ?? 0
    if (n >= this.#limits.maxPerIp) return false
    this.#perIp.set(ip, n + 1)
    socket.once('close', () => {
      const left = (this.#perIp.get(ip) ?? 1) - 1
      if (left > 0) this.#perIp.set(ip, left)
      else this.#perIp.delete(ip)
    })
    return true
  }

  /** One encrypted handshake may start now (takes a token). */
  allowEncrypted(): boolean {
    return this.#encrypted?.tryTake(1) ?? false
  }
}
