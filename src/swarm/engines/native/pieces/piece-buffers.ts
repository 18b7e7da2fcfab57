// Piece-sized buffers of the in-process engine, used again instead of allocated per piece. A fresh 256 KiB buffer per
// verified piece is memory outside V8's heap, and that outside memory sets off a follower's full garbage
// collections (7 mark-compacts in a 128 MB download, 12 % of a follower's CPU in profiles). A buffer goes back to
// the free list only when nothing can still read it: its owner released it (the cache evicted it, its piece failed)
// and no socket write or upload read holds it — a buffer reused while a socket still sends it would send another
// piece's bytes.
import { SWARM_DEFAULTS } from '../../../defaults.ts'

export type PieceBufferPoolOptions = {
  /** Free buffers kept at most, in bytes; beyond that a released buffer is left to the garbage collector. @defaultValue SWARM_DEFAULTS.pieceBuffers.maxFreeBytes (16 MiB) */
  maxFreeBytes?: number
}

export class PieceBufferPool {
  readonly #maxFreeBytes: number
  readonly #free = new Map<number, Buffer[]>()
  #freeBytes = 0
  /** Buffers this pool made (not free): how many holds each has. */
  readonly #holds = new WeakMap<ArrayBufferLike, number>()
  /** Released by their owner while held: free once the last hold ends. */
  readonly #released = new WeakSet<ArrayBufferLike>()

  constructor(options: PieceBufferPoolOptions = {}) {
    this.#maxFreeBytes = options.maxFreeBytes ?? SWARM_DEFAULTS.pieceBuffers.maxFreeBytes
  }

  /** Free bytes waiting to be taken. */
  get freeBytes(): number { return this.#freeBytes }

  /** A buffer of `size` bytes with undefined contents, the caller's until it releases it. */
  take(size: number): Buffer {
    const buf = this.#free.get(size)?.pop()
    if (buf) {
      this.#freeBytes -= size
      this.#holds.set(buf.buffer, 0)
      return buf
    }
    const fresh = Buffer.allocUnsafeSlow(size)
    this.#holds.set(fresh.buffer, 0)
    return fresh
  }

  /** The owner is done with `buf` (a buffer from take(); others are ignored). Released twice: ignored. */
  release(buf: Buffer): void {
    const ab = buf.buffer
    const holds = this.#holds.get(ab)
    if (holds === undefined || buf.byteOffset !== 0 || buf.length !== ab.byteLength) return
    if (holds > 0) { this.#released.add(ab); return }
    this.#toFree(buf)
  }

  /**
   * Holds the pool buffer `view` lies in while a socket write or a read uses it; returns the function that ends
   * the hold (once), or undefined when `view` is not in a pool buffer (nothing to hold).
   */
  hold(view: Uint8Array): (() => void) | undefined {
    const ab = view.buffer
    const holds = this.#holds.get(ab)
    if (holds === undefined) return undefined
    this.#holds.set(ab, holds + 1)
    let ended = false
    return () => {
      if (ended) return
      ended = true
      const left = (this.#holds.get(ab) ?? 1) - 1
      this.#holds.set(ab, left)
      if (left === 0 && this.#released.has(ab)) {
        this.#released.delete(ab)
        this.#toFree(Buffer.from(ab))
      }
    }
  }

  #toFree(buf: Buffer): void {
    // Not ours any more while free: a stray second release or hold finds nothing.
    this.#holds.delete(buf.buffer)
    if (this.#freeBytes + buf.length > this.#maxFreeBytes) return
    const list = this.#free.get(buf.length) ?? []
    this.#free.set(buf.length, list)
    list.push(buf)
    this.#freeBytes += buf.length
  }
}
