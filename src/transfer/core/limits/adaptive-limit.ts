// How many copies a run keeps in flight, set from what the copies achieve: goodput (files/s and bytes/s) per
// measurement window, compared with the window before at another limit. No transport here: the engine reports
// each finished copy and each overload answer (429/503/SlowDown), and reads `limit`.
//
// Latency-gradient limiters (Netflix concurrency-limits' Gradient2 and Vegas) protect a server: they grow while
// latency stays near its minimum. A copier's goal is throughput from an origin whose latency is mostly distance,
// and file sizes vary, so latency alone says little; this one climbs goodput instead, the way TCP's slow start and
// a hill-climbing probe do:
// - start (slow start, as TCP's): the limit grows by one per finished copy that found it busy, so it doubles per
//   round (at least `roundMs`, one mean copy latency and `windowSamples` copies) and never more than doubles in one.
//   Growth pauses while the mean latency of the last `windowSamples` copies is `roundLatencyRise` times the lowest it
//   has been (copies queueing for the CPU or at the origin), and while the thread that runs the copies is busy more
//   than `busyMax` of its time (when the engine says how busy it is: more copies need CPU it does not have). Each round's goodput, read by Little's law (the copies
//   in flight when its copies were sent over their mean latency), is compared with the last round that gained;
//   the copies finishing in a round were sent during the round before it, so when a round fails to
//   beat it by `growGain`, and the next round fails too, the growth of the round before the first failure did not
//   pay: the limit goes back to where that round began, and the steady phase takes over.
// - steady: from a freshly measured base, probe `probeUp` higher and keep it when goodput grows by `probeGain`;
//   otherwise probe `probeDown` lower and keep that when goodput stays within `keepFraction` (fewer copies for
//   the same goodput cost less CPU and memory: on a near origin the limit settles where the CPU saturates); a busy
//   copying thread (over `busyMax`) probes downwards only.
// - overload (429, 503, S3 SlowDown): multiply the limit by `backoff` at most once per window (the answers of the
//   copies already in flight at the old limit do not count twice), hold it for max(`holdMs`, Retry-After), then
//   probe upwards again.
// A window that could not fill the limit (the crawl not feeding fast enough) says nothing about it and is dropped.
import { TRANSFER_DEFAULTS } from '../../defaults.ts'
import { performance } from 'node:perf_hooks'

const A = TRANSFER_DEFAULTS.adaptive

export type AdaptiveLimitOptions = {
  /** @defaultValue TRANSFER_DEFAULTS.adaptive.min */
  min?: number
  /** @defaultValue TRANSFER_DEFAULTS.adaptive.max */
  max?: number
  /** @defaultValue TRANSFER_DEFAULTS.adaptive.initial */
  initial?: number
  /** Shortest measurement window. @defaultValue TRANSFER_DEFAULTS.adaptive.windowMs */
  windowMs?: number
  /** A window lasts at least this many mean copy latencies. @defaultValue TRANSFER_DEFAULTS.adaptive.windowLatencies */
  windowLatencies?: number
  /** …and holds at least this many finished copies. @defaultValue TRANSFER_DEFAULTS.adaptive.windowSamples */
  windowSamples?: number
  /** Clock in ms. @defaultValue performance.now */
  now?: () => number
  /** The share (0–1) of recent time the thread that runs the copies was busy. @defaultValue none: not consulted */
  busy?: () => number
}

export type LimitReason = 'grow' | 'settle' | 'probe-up' | 'probe-down' | 'keep' | 'restore' | 'overload' | 'recover'

/** A change of the limit, with the goodput of the window that decided it. */
export type LimitChange = { limit: number; previous: number; reason: LimitReason; filesPerS: number; bytesPerS: number; latencyMs: number }

type Goodput = { files: number; bytes: number }
type Phase = 'start' | 'base' | 'up' | 'down' | 'hold'

export class AdaptiveLimit {
  readonly min: number
  readonly max: number
  #limit: number
  #phase: Phase = 'start'
  readonly #now: () => number
  readonly #busy: (() => number) | undefined
  readonly #windowMs: number
  readonly #windowLatencies: number
  readonly #windowSamples: number
  // The current window.
  #start: number
  #files = 0
  #bytes = 0
  #inFlightSum = 0
  #sentWithSum = 0
  #limitSum = 0
  #latencySum = 0
  // Slow start: the limit when this round began, the limits at the last round boundaries, the mean latency of the
  // last ~`windowSamples` copies and the lowest it has been.
  #roundStart: number
  #bounds: number[]
  #recentLatency = 0
  // Where the limit returns when the round after a round that did not gain does not gain either.
  #settleTo: number | undefined
  #minLatency = Number.POSITIVE_INFINITY
  #completions = 0
  // What the previous window measured, at which limit.
  #ref: Goodput | undefined
  #refLimit: number
  #latencyEwma = 0
  #holdUntil = 0
  // The limit at the last overload: probes upwards approach it in small steps instead of jumping past it.
  #ceiling = Number.POSITIVE_INFINITY
  #lowest: number
  #highest: number
  #begun = false

  constructor(options: AdaptiveLimitOptions = {}) {
    this.min = Math.max(1, options.min ?? A.min)
    this.max = Math.max(this.min, options.max ?? A.max)
    this.#limit = clamp(options.initial ?? A.initial, this.min, this.max)
    this.#refLimit = this.#limit
    this.#roundStart = this.#limit
    this.#bounds = [this.#limit]
    this.#lowest = this.#limit
    this.#highest = this.#limit
    this.#now = options.now ?? (() => performance.now())
    this.#busy = options.busy
    this.#windowMs = options.windowMs ?? A.windowMs
    this.#windowLatencies = options.windowLatencies ?? A.windowLatencies
    this.#windowSamples = options.windowSamples ?? A.windowSamples
    this.#start = this.#now()
  }

  /** Copies that may be in flight now. */
  get limit(): number { return this.#limit }
  /** The lowest and highest limit so far. */
  get range(): { lowest: number; highest: number } { return { lowest: this.#lowest, highest: this.#highest } }

  /**
   * A copy finished (copied or already present): its bytes, how long it took, how many copies were in flight when it
   * finished (itself included) and when it was sent (itself included). Returns the change when this closes a window
   * that moves the limit.
   */
  onComplete(bytes: number, latencyMs: number, inFlight: number, sentWith = inFlight): LimitChange | undefined {
    // The first window begins with the first finished copy: not when the run was planned and crawled, nor while
    // the first copies were still on their way (a window with no completions in its first latency reads low).
    if (!this.#begun) { this.#begun = true; this.#start = this.#now() }
    this.#files++
    this.#bytes += bytes
    this.#inFlightSum += inFlight
    this.#sentWithSum += sentWith
    this.#limitSum += this.#limit
    this.#latencySum += latencyMs
    const start = this.#phase === 'start'
    if (start) this.#grow(inFlight, latencyMs)
    const now = this.#now()
    const elapsed = now - this.#start
    if (this.#files < this.#windowSamples || elapsed < (start ? A.roundMs : this.#windowMs)) return undefined
    const latency = this.#latencySum / this.#files
    if (elapsed < latency * (start ? 1 : this.#windowLatencies)) return undefined
    this.#latencyEwma = this.#latencyEwma === 0 ? latency : 0.7 * this.#latencyEwma + 0.3 * latency
    // A round lasts about one copy latency, and copies sent together finish together: how many of such a wave fall
    // into one round is chance, so the start reads its goodput by Little's law instead: the copies in flight when the
    // round's copies were sent over their mean latency, which does not depend on where the round's edges fall. The
    // steady phase's windows (at least 200 ms and 2 latencies) count what finished in them.
    const files = start ? (this.#sentWithSum * 1000) / (this.#latencySum || 1) : (this.#files * 1000) / elapsed
    const g: Goodput = { files, bytes: (files * this.#bytes) / this.#files }
    const filled = this.#inFlightSum >= A.fillFraction * this.#limitSum
    this.#resetWindow(now)
    return this.#decide(g, filled, now)
  }

  /** Slow start: one more copy in flight for a copy that finished with the limit busy, up to double the round's start. */
  #grow(inFlight: number, latencyMs: number): void {
    const recent = this.#recentLatency = this.#completions++ === 0 ? latencyMs : this.#recentLatency + (latencyMs - this.#recentLatency) / this.#windowSamples
    if (this.#completions >= this.#windowSamples && recent < this.#minLatency) this.#minLatency = recent
    if (inFlight < A.fillFraction * this.#limit || this.#limit >= this.max || this.#limit >= 2 * this.#roundStart) return
    if (recent > A.roundLatencyRise * this.#minLatency) return
    if (this.#saturated()) return
    this.#limit++
    if (this.#limit > this.#highest) this.#highest = this.#limit
  }

  /** The thread that runs the copies was busy more than `busyMax` of its recent time (when the engine says). */
  #saturated(): boolean {
    return this.#busy !== undefined && this.#busy() > A.busyMax
  }

  /** An overload answer (429, 503, SlowDown), with its Retry-After when it had one. */
  onOverload(retryAfterMs = 0): LimitChange | undefined {
    const now = this.#now()
    const holdFor = Math.max(A.holdMs, retryAfterMs)
    // Once per window: the copies in flight at the old limit answer the same, and count once.
    if (this.#phase === 'hold' && now - this.#start < Math.max(this.#windowMs, this.#latencyEwma * this.#windowLatencies)) {
      this.#holdUntil = Math.max(this.#holdUntil, now + holdFor)
      return undefined
    }
    this.#phase = 'hold'
    this.#ceiling = this.#limit
    this.#holdUntil = now + holdFor
    this.#ref = undefined
    this.#resetWindow(now)
    return this.#set(Math.floor(this.#limit * A.backoff), 'overload', { files: 0, bytes: 0 })
  }

  #decide(g: Goodput, filled: boolean, now: number): LimitChange | undefined {
    const ref = this.#ref
    switch (this.#phase) {
      case 'hold':
        if (now < this.#holdUntil) return undefined
        this.#toBase(g)
        return this.#set(this.#upwards(), 'recover', g, 'up')
      case 'start': {
        this.#roundStart = this.#limit
        const bounds = this.#bounds
        bounds.push(this.#limit)
        if (bounds.length > 3) bounds.shift()
        // A round the crawl could not keep busy says nothing about the limit.
        if (!filled) return undefined
        const previous = bounds[bounds.length - 2] as number
        if (ref === undefined || gain(g, ref) >= 1 + A.growGain) {
          this.#ref = g
          this.#settleTo = undefined
          if (this.#limit >= this.max) this.#phase = 'base'
          return this.#limit === previous ? undefined : { limit: this.#limit, previous, reason: 'grow', filesPerS: g.files, bytesPerS: g.bytes, latencyMs: this.#latencyEwma }
        }
        // This round's copies, sent while the round before grew the limit, went no faster than the last round that
        // gained: that growth did not pay, unless the next round says otherwise (one round's goodput is noisy).
        const before = bounds[bounds.length - 3] ?? (bounds[0] as number)
        if (this.#settleTo === undefined) { this.#settleTo = before; return undefined }
        this.#phase = 'base'
        return this.#set(this.#settleTo, 'settle', g)
      }
      case 'base':
        if (!filled) return undefined
        this.#toBase(g)
        // A copying thread with no time to spare gains nothing from more copies: try fewer instead.
        return this.#limit < this.max && !this.#saturated() ? this.#set(this.#upwards(), 'probe-up', g, 'up') : this.#set(this.#limit * A.probeDown, 'probe-down', g, 'down')
      case 'up':
        if (ref === undefined) { this.#phase = 'base'; return undefined }
        if (filled && gain(g, ref) >= 1 + A.probeGain) {
          this.#toBase(g)
          if (this.#limit > this.#ceiling) this.#ceiling = this.#limit
          return this.#set(this.#upwards(), 'probe-up', g, 'up')
        }
        return this.#set(this.#refLimit * A.probeDown, 'probe-down', g, 'down')
      case 'down':
        this.#phase = 'base'
        if (ref !== undefined && gain(g, ref) >= A.keepFraction) return this.#set(this.#limit, 'keep', g)
        return this.#set(this.#refLimit, 'restore', g)
    }
  }

  /** The next limit upwards: `probeUp` times this one, in steps of `creep` close to the last overload's limit. */
  #upwards(): number {
    const near = this.#ceiling * A.nearCeiling
    if (this.#limit >= near) return this.#limit * A.creep
    return Math.min(this.#limit * A.probeUp, near)
  }

  /** The limit now in force is the base a probe is compared with. */
  #toBase(g: Goodput): void {
    this.#ref = g
    this.#refLimit = this.#limit
  }

  #set(next: number, reason: LimitReason, g: Goodput, phase?: Phase): LimitChange | undefined {
    if (phase) this.#phase = phase
    const previous = this.#limit
    // A probe moves by at least one copy, so small limits still explore.
    let limit = clamp(Math.round(next), this.min, this.max)
    if (limit === previous && (reason === 'probe-up' || reason === 'recover') && previous < this.max) limit = previous + 1
    if (limit === previous && reason === 'probe-down' && previous > this.min) limit = previous - 1
    this.#limit = limit
    if (limit < this.#lowest) this.#lowest = limit
    if (limit > this.#highest) this.#highest = limit
    if (limit === previous) { if (phase === 'up' || phase === 'down') this.#phase = 'base'; return undefined }
    return { limit, previous, reason, filesPerS: g.files, bytesPerS: g.bytes, latencyMs: this.#latencyEwma }
  }

  #resetWindow(now: number): void {
    this.#start = now
    this.#files = 0
    this.#bytes = 0
    this.#inFlightSum = 0
    this.#sentWithSum = 0
    this.#limitSum = 0
    this.#latencySum = 0
  }
}

/** How much better `a` is than `b`: the geometric mean of the files/s and bytes/s ratios. */
function gain(a: Goodput, b: Goodput): number {
  return Math.sqrt(((a.files + 1e-9) / (b.files + 1e-9)) * ((a.bytes + 1) / (b.bytes + 1)))
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n))
}
