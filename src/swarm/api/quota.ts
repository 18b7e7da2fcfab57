// Per-client limits on the downloads the agent's REST API starts: how many may run at once for one client address,
// and how fast one client address may start them (a token bucket per address).
import { SwarmError } from '../errors.ts'
import { TokenBucket } from '../token-bucket.ts'

export type StartQuotaOptions = {
  /** Downloads one client address may have running (started by it, not yet complete); 0 = no limit. */
  maxActive: number
  /** Starts per second one client address may make, on average; 0 = no limit. */
  rate: number
  /** Starts one client address may make at once after an idle spell. */
  burst: number
}

/** Seconds a client over --api-max-active is told to wait: a running download's end cannot be predicted. */
const QUOTA_RETRY_SECONDS = 5
/** Past this many tracked addresses, the idle ones (nothing running, a full bucket) are forgotten. */
const MAX_TRACKED = 10_000

/** started: downloads this address started that may still run; pending: starts still being set up. */
type Client = { bucket: TokenBucket; started: Set<string>; pending: number }

/** One charged start: `commit(id)` once the download exists, `release()` if it did not start. */
export type StartSlot = { commit(id: string): void; release(): void }

export class StartQuota {
  readonly #options: StartQuotaOptions
  readonly #clients = new Map<string, Client>()

  constructor(options: StartQuotaOptions) {
    this.#options = options
  }

  #client(address: string): Client {
    let c = this.#clients.get(address)
    if (!c) {
      if (this.#clients.size >= MAX_TRACKED) this.#forgetIdle()
      c = { bucket: new TokenBucket({ rate: this.#options.rate, burst: Math.max(1, this.#options.burst) }), started: new Set(), pending: 0 }
      this.#clients.set(address, c)
    }
    return c
  }

  #forgetIdle(): void {
    for (const [address, c] of this.#clients) {
      if (c.started.size === 0 && c.pending === 0 && c.bucket.waitMs(Math.max(1, this.#options.burst)) <= 1) this.#clients.delete(address)
    }
  }

  /**
   * Charges one start to `address`, or throws SWARM_QUOTA / SWARM_RATE_LIMITED (429, details.retryAfterSeconds).
   * `isActive(id)` tells whether a download this address started is still running. The slot counts as running
   * from now on, so requests that arrive while this start is being set up see it.
   */
  take(address: string, isActive: (id: string) => boolean): StartSlot {
    const c = this.#client(address)
    for (const id of c.started) if (!isActive(id)) c.started.delete(id)
    const { maxActive } = this.#options
    const active = c.started.size + c.pending
    if (maxActive > 0 && active >= maxActive) {
      throw new SwarmError('SWARM_QUOTA', `this client already has ${active} downloads running (--api-max-active ${maxActive})`, {
        details: { client: address, active, maxActive, retryAfterSeconds: QUOTA_RETRY_SECONDS },
      })
    }
    if (!c.bucket.tryTake(1)) {
      const retryAfterSeconds = Math.max(1, Math.ceil(c.bucket.waitMs(1) / 1000))
      throw new SwarmError('SWARM_RATE_LIMITED', `this client starts downloads faster than ${this.#options.rate}/s (--api-start-rate)`, {
        details: { client: address, rate: this.#options.rate, retryAfterSeconds },
      })
    }
    c.pending++
    let open = true
    const close = (): void => { if (open) { open = false; c.pending-- } }
    return {
      commit: (id) => { close(); c.started.add(id) },
      release: close,
    }
  }
}
