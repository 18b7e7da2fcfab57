// Pieces of the in-process engine kept in memory, least recently used out first. A fleet asks for what just
// arrived: a follower forwards the piece it verified a moment ago, so most reads never touch the file. An evicted
// piece goes back to the buffer pool, which reuses it once no read or socket write holds it.
import type { PieceBufferPool } from './piece-buffers.ts'

/** A cached piece and the end of the caller's hold on it (call it once the bytes are handed to the socket). */
export type HeldPiece = { piece: Buffer; release: () => void }

const noop = (): void => undefined

export class PieceCache {
  readonly #budget: number
  readonly #pool: PieceBufferPool | undefined
  #bytes = 0
  readonly #pieces = new Map<string, Buffer>()
  readonly #loading = new Map<string, Promise<Buffer>>()

  /** `budget`: bytes held at most; `pool`: where evicted pieces go (none: left to the garbage collector). */
  constructor(budget: number, pool?: PieceBufferPool) {
    this.#budget = budget
    this.#pool = pool
  }

  /** The piece from memory, or `load`ed once however many ask at the same time; held until `release`. */
  get(infoHash: string, index: number, load: () => Promise<Buffer>): Promise<HeldPiece> {
    const key = `${infoHash}:${index}`
    const hit = this.#pieces.get(key)
    if (hit) {
      this.#pieces.delete(key)
      this.#pieces.set(key, hit)
      // Held before this returns: nothing can evict and reuse it on the way to the caller.
      return Promise.resolve({ piece: hit, release: this.#pool?.hold(hit) ?? noop })
    }
    let p = this.#loading.get(key)
    if (!p) {
      p = load().then((buf) => { this.put(infoHash, index, buf); return buf }).finally(() => this.#loading.delete(key))
      this.#loading.set(key, p)
    }
    return p.then((piece) => ({ piece, release: this.#pool?.hold(piece) ?? noop }))
  }

  put(infoHash: string, index: number, data: Buffer): void {
    const key = `${infoHash}:${index}`
    const old = this.#pieces.get(key)
    if (old) {
      this.#bytes -= old.length
      this.#pieces.delete(key)
      if (old !== data) this.#pool?.release(old)
    }
    this.#pieces.set(key, data)
    this.#bytes += data.length
    for (const [k, v] of this.#pieces) {
      if (this.#bytes <= this.#budget) break
      this.#pieces.delete(k)
      this.#bytes -= v.length
      this.#pool?.release(v)
    }
  }

  /** Forgets a torrent's pieces (it stopped). */
  drop(infoHash: string): void {
    const prefix = `${infoHash}:`
    for (const [k, v] of this.#pieces) {
      if (!k.startsWith(prefix)) continue
      this.#pieces.delete(k)
      this.#bytes -= v.length
      this.#pool?.release(v)
    }
  }
}
