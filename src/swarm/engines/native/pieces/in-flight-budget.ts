// One budget of bytes being assembled for all of the in-process engine's torrents. A follower that joins an object
// late fetches every published segment at once, two or more pieces per peer in each: without one budget the pieces
// in flight reach several times what the buffer pool keeps, and every buffer beyond it is memory touched for the
// first time (a page fault per 4 KiB) and memory outside V8's heap that sets off its full collections.
import { SWARM_DEFAULTS } from '../../../defaults.ts'

export class InFlightBudget {
  readonly #max: number
  #bytes = 0
  readonly #waiting = new Set<() => void>()
  #waking = false

  /** `max`: bytes in flight at most (one piece may always start, however large). */
  constructor(max: number = SWARM_DEFAULTS.pieceBuffers.inFlightBytes) {
    this.#max = max
  }

  /** Bytes of pieces being assembled. */
  get bytes(): number { return this.#bytes }

  /** Takes `size` bytes if they fit (or nothing is in flight); false: call `wait`. */
  tryTake(size: number): boolean {
    if (this.#bytes > 0 && this.#bytes + size > this.#max) return false
    this.#bytes += size
    return true
  }

  /** A piece's assembly ended (verified, failed or abandoned): its bytes go back, and whoever waited tries again. */
  give(size: number): void {
    this.#bytes = Math.max(0, this.#bytes - size)
    if (this.#waiting.size === 0 || this.#waking) return
    // Once per tick, after the current message's handlers: a freed piece wakes every waiter once, not per piece.
    this.#waking = true
    setImmediate(() => {
      this.#waking = false
      const waiting = [...this.#waiting]
      this.#waiting.clear()
      for (const wake of waiting) wake()
    })
  }

  /** `wake` runs once after bytes come back (the same function waiting twice runs once). */
  wait(wake: () => void): void {
    this.#waiting.add(wake)
  }
}
