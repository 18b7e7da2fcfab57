// The native engine's announce client: one torrent announced to every tracker of its list, each independently
// and on its own schedule (a tracker that is down or slow delays no other), over HTTP(S) (announce-http.ts) or
// UDP (announce-udp.ts). Every failure — refused, timed out, malformed, a failure reason — is a 'warning';
// nothing is thrown out and 'error' is never emitted. It imports no WebRTC code (bittorrent-tracker's client
// does, through simple-peer, which needs a native addon).
import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { SWARM_DEFAULTS } from '../../../defaults.ts'
import { announceHttp } from './announce-http.ts'
import type { AnnounceAnswer, AnnounceEvent, AnnounceRequest } from './announce-peers.ts'
import { UdpTracker } from './announce-udp.ts'

export type AnnounceLimits = {
  /** Bounds on the re-announce interval a tracker asks for. */
  minIntervalMs: number
  maxIntervalMs: number
  /** Interval until a tracker names one. */
  defaultIntervalMs: number
  timeoutMs: number
  stopTimeoutMs: number
  udpRetransmitMs: number
  maxResponseBytes: number
  numwant: number
  /** Peers taken from one answer at most; the rest are ignored. */
  maxPeersPerAnswer: number
}

export type AnnounceClientOptions = {
  /** Hex strings, 20 bytes each. */
  infoHash: string
  peerId: string
  /** The BitTorrent port announced. */
  port: number
  /** Tracker URLs: http(s):// and udp://; others get a 'warning' at start() and are skipped. */
  announce: string[]
  /** Counters sent with each announce. @defaultValue zeros */
  getAnnounceOpts?: () => { uploaded: number; downloaded: number; left: number }
  /** @defaultValue SWARM_DEFAULTS.announce */
  limits?: Partial<AnnounceLimits>
}

type Transport = (r: AnnounceRequest) => Promise<AnnounceAnswer>

/** One tracker's schedule. */
type TrackerState = {
  url: string
  /** Undefined: a URL this client cannot announce to (reported at start()). */
  transport: Transport | undefined
  unsupported?: string
  timer: NodeJS.Timeout | undefined
  busy: boolean
  /** An event to send once the announce in flight ends. */
  queued: AnnounceEvent | undefined
  /** 'started' went through: later announces are regular ones. */
  started: boolean
  intervalMs: number
  minIntervalMs: number
  lastAt: number
  failures: number
}

const counter = (n: number): number => (Number.isFinite(n) && n > 0 ? Math.floor(n) : 0)
const clamp = (n: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, n))

/** Announces one torrent to its trackers and reports the peers they return ('peer': "ip:port" or "[ip]:port"). */
export class AnnounceClient extends EventEmitter<{ peer: [address: string]; warning: [err: Error]; error: [err: Error] }> {
  readonly #limits: AnnounceLimits
  readonly #base: Omit<AnnounceRequest, 'uploaded' | 'downloaded' | 'left' | 'event' | 'signal'>
  readonly #counters: () => { uploaded: number; downloaded: number; left: number }
  readonly #trackers: TrackerState[]
  readonly #abort = new AbortController()
  #closed = false

  constructor(options: AnnounceClientOptions) {
    super()
    this.#limits = { ...SWARM_DEFAULTS.announce, ...options.limits }
    this.#base = {
      infoHash: Buffer.from(options.infoHash, 'hex'), peerId: Buffer.from(options.peerId, 'hex'), port: options.port,
      key: randomBytes(4).readUInt32BE(0), numwant: this.#limits.numwant,
    }
    this.#counters = options.getAnnounceOpts ?? (() => ({ uploaded: 0, downloaded: 0, left: 0 }))
    this.#trackers = [...new Set(options.announce)].map((url) => this.#tracker(url))
  }

  /** Announces 'started' to every tracker. */
  start(): void {
    for (const s of this.#trackers) {
      if (s.unsupported !== undefined) this.#warn(s, s.unsupported)
      else this.#announce(s, 'started')
    }
  }

  /** Announces now to every tracker not busy and past its `min interval`. */
  update(): void {
    const now = Date.now()
    for (const s of this.#trackers) if (!s.busy && now - s.lastAt >= s.minIntervalMs) this.#announce(s, undefined)
  }

  /** Announces 'completed' to every tracker. */
  complete(): void {
    for (const s of this.#trackers) this.#announce(s, 'completed')
  }

  /** Announces 'stopped' to every tracker (best effort, within limits.stopTimeoutMs); no event after this. */
  stop(): void {
    if (this.#closed) return
    this.#closed = true
    const sends: Promise<unknown>[] = []
    for (const s of this.#trackers) {
      clearTimeout(s.timer)
      if (s.transport) sends.push(this.#send(s, 'stopped', this.#limits.stopTimeoutMs).catch(() => undefined))
    }
    void Promise.all(sends).then(() => this.#abort.abort())
  }

  /** Stops at once: timers cleared, requests in flight aborted, no event after this. */
  destroy(cb?: () => void): void {
    this.#closed = true
    for (const s of this.#trackers) clearTimeout(s.timer)
    this.#abort.abort()
    if (cb) process.nextTick(cb)
  }

  #tracker(url: string): TrackerState {
    const s: TrackerState = {
      url, transport: undefined, timer: undefined, busy: false, queued: undefined, started: false,
      intervalMs: this.#limits.defaultIntervalMs, minIntervalMs: 0, lastAt: 0, failures: 0,
    }
    let protocol: string
    try { protocol = new URL(url).protocol } catch { s.unsupported = 'not a URL'; return s }
    if (protocol === 'http:' || protocol === 'https:') s.transport = (r) => announceHttp(url, r, this.#limits.maxResponseBytes)
    else if (protocol === 'udp:') {
      try {
        const udp = new UdpTracker(url, this.#limits.udpRetransmitMs)
        s.transport = (r) => udp.announce(r)
      } catch (err) { s.unsupported = (err as Error).message }
    } else s.unsupported = `unsupported tracker protocol ${protocol}`
    return s
  }

  #send(s: TrackerState, event: AnnounceEvent | undefined, timeoutMs: number): Promise<AnnounceAnswer> {
    const c = this.#counters()
    const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), this.#abort.signal])
    const request: AnnounceRequest = {
      ...this.#base, uploaded: counter(c.uploaded), downloaded: counter(c.downloaded), left: counter(c.left), event, signal,
    }
    const transport = s.transport as Transport
    return Promise.resolve().then(() => transport(request))
  }

  #announce(s: TrackerState, event: AnnounceEvent | undefined): void {
    if (this.#closed || !s.transport) return
    if (s.busy) {
      if (event) s.queued = event
      return
    }
    clearTimeout(s.timer)
    s.busy = true
    s.lastAt = Date.now()
    // Until one 'started' went through, every announce is a 'started' (the tracker may have missed the first).
    const sent = event ?? (s.started ? undefined : 'started')
    void this.#send(s, sent, this.#limits.timeoutMs).then(
      (answer) => { if (!this.#closed) this.#answered(s, sent, answer) },
      (err: unknown) => { s.failures++; if (!this.#closed) this.#warn(s, (err as Error).message) },
    ).finally(() => {
      s.busy = false
      if (this.#closed) return
      const next = s.queued
      s.queued = undefined
      if (next) this.#announce(s, next)
      else this.#schedule(s)
    })
  }

  #answered(s: TrackerState, sent: AnnounceEvent | undefined, answer: AnnounceAnswer): void {
    const { minIntervalMs, maxIntervalMs, maxPeersPerAnswer } = this.#limits
    s.failures = 0
    if (sent === 'started') s.started = true
    if (answer.minInterval !== undefined) s.minIntervalMs = Math.min(answer.minInterval * 1000, maxIntervalMs)
    if (answer.interval !== undefined) s.intervalMs = clamp(answer.interval * 1000, minIntervalMs, maxIntervalMs)
    s.intervalMs = Math.max(s.intervalMs, s.minIntervalMs)
    if (answer.warning !== undefined) this.#warn(s, `warning message: ${answer.warning}`)
    for (const peer of answer.peers.slice(0, maxPeersPerAnswer)) {
      if (this.#closed) return
      this.emit('peer', peer)
    }
  }

  /** The next regular announce: the tracker's interval, or after a failure a doubling delay up to it. */
  #schedule(s: TrackerState): void {
    const retry = this.#limits.minIntervalMs * 2 ** Math.min(s.failures - 1, 20)
    const delay = s.failures > 0 ? Math.min(s.intervalMs, retry) : s.intervalMs
    s.timer = setTimeout(() => this.#announce(s, undefined), delay)
    s.timer.unref()
  }

  #warn(s: TrackerState, message: string): void {
    this.emit('warning', new Error(`tracker ${s.url}: ${message}`))
  }
}
