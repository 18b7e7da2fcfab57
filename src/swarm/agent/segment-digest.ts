// The object's SHA-256 from its segment files, fed in order as the segments complete: at the end only the last
// segment is left to hash. Hashing all of F once every segment is in costs each of 16 agents on 2 cores 1–2 s
// between its last verified piece and its completion (docs/benchmarks/swarm.md).
import { createHash } from 'node:crypto'
import { hashRangesInto, sha256Parts, type FileRange } from './segments.ts'

export class SegmentDigest {
  readonly #count: number
  readonly #placeOf: (part: number) => FileRange
  readonly #hash = createHash('sha256')
  readonly #complete = new Set<number>()
  /** Segments hashed so far (all before this one). */
  #next = 0
  #chain: Promise<void> = Promise.resolve()
  /** A read failed: the digest is computed from scratch at the end instead. */
  #broken = false
  #hex: string | undefined

  constructor(count: number, placeOf: (part: number) => FileRange) {
    this.#count = count
    this.#placeOf = placeOf
  }

  /** Segment `part` is verified on disk and will not change. */
  add(part: number): void {
    this.#complete.add(part)
    this.#chain = this.#chain.then(() => this.#advance()).catch(() => { this.#broken = true })
  }

  /** Segments `from` on will be written again (a successor leader refetches them): wait for them anew. */
  drop(from: number): void {
    for (const k of [...this.#complete]) if (k >= from && k >= this.#next) this.#complete.delete(k)
  }

  async #advance(): Promise<void> {
    while (!this.#broken && this.#complete.has(this.#next)) {
      await hashRangesInto([this.#placeOf(this.#next)], this.#hash)
      this.#next++
    }
  }

  /** How many segments, from the first, are hashed once the work queued so far is done. */
  async hashed(): Promise<number> {
    await this.#chain
    return this.#next
  }

  /** Hex SHA-256 of the whole object; every segment must have been added. */
  async digest(): Promise<string> {
    await this.#chain
    if (this.#hex) return this.#hex
    const ranges = Array.from({ length: this.#count }, (_, k) => this.#placeOf(k))
    this.#hex = !this.#broken && this.#next === this.#count ? this.#hash.digest('hex') : await sha256Parts(ranges)
    return this.#hex
  }
}
