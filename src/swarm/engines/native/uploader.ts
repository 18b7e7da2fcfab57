// The native engine's uploader: every peer's queued requests, served in turns under the agent's one upload bucket.
// Peers take turns in the order they became ready (round-robin), a turn being up to `turnBytes` (a whole piece
// between agents: its blocks leave together and wake the peer once). A turn the cap cuts short resumes first when
// the bucket refills: sent to the back of the line instead, the rest of the piece waited a whole round, and a
// piece is of use to its receiver (and to those it passes it on to) only once it is whole: with 32 agents capped
// at 2 MB/s, where the bucket runs dry on most turns, that wait put completion at 1.44–1.47 × the bound instead of
// 1.30–1.33 × (docs/benchmarks/swarm.md).
import type { NativePeer } from './peer.ts'
import type { TokenBucket } from '../../token-bucket.ts'

export type UploaderOptions = {
  /** Bytes sent to one peer before the next peer's turn. */
  turnBytes: number
  /** Shortest wait for tokens (ms): a capped agent wakes at most ~1000 / tickMs times a second to send. */
  tickMs: number
  /** Runs `fn` in `ms` (tests pass their own). @defaultValue setTimeout */
  schedule?: (fn: () => void, ms: number) => { cancel: () => void }
}

export class Uploader {
  readonly #bucket: TokenBucket
  readonly #opts: UploaderOptions
  readonly #schedule: NonNullable<UploaderOptions['schedule']>
  /** Peers with requests queued, in turn order. */
  readonly #ready = new Set<NativePeer>()
  /** The turn the cap cut short, and the bytes it had sent. */
  #cut: { peer: NativePeer; sent: number } | undefined
  #timer: { cancel: () => void } | undefined

  constructor(bucket: TokenBucket, opts: UploaderOptions) {
    this.#bucket = bucket
    this.#opts = opts
    this.#schedule = opts.schedule ?? ((fn, ms) => {
      const t = setTimeout(fn, ms)
      return { cancel: () => clearTimeout(t) }
    })
  }

  /** `peer` has requests queued: it takes its turn (at once if the bucket allows). */
  want(peer: NativePeer): void {
    this.#ready.add(peer)
    this.#pump()
  }

  stop(): void {
    this.#timer?.cancel()
    this.#timer = undefined
    this.#ready.clear()
    this.#cut = undefined
  }

  #pump(): void {
    if (this.#timer) return
    for (;;) {
      const resumed = this.#cut
      this.#cut = undefined
      const peer = resumed?.peer ?? (this.#ready.values().next().value as NativePeer | undefined)
      if (!peer) return
      this.#ready.delete(peer)
      if (peer.closed || !peer.queue.length) continue
      if (peer.congested) {
        // One listener per congestion, however many requests arrive meanwhile.
        if (!peer.awaitingDrain) {
          peer.awaitingDrain = true
          peer.socket.once('drain', () => { peer.awaitingDrain = false; if (peer.queue.length) this.want(peer) })
        }
        continue
      }
      for (let sent = resumed?.sent ?? 0; sent < this.#opts.turnBytes;) {
        const job = peer.queue[0]
        if (!job) break
        if (!this.#bucket.tryTake(job.length)) {
          this.#cut = { peer, sent }
          this.#timer = this.#schedule(() => { this.#timer = undefined; this.#pump() }, Math.max(this.#opts.tickMs, this.#bucket.waitMs(job.length)))
          return
        }
        peer.queue.shift()
        sent += job.length
        peer.uploads?.serve(peer, job)
      }
      if (peer.queue.length) this.#ready.add(peer)
    }
  }
}
