// Pieces of the in-process engine kept in memory, least recently used out first. A fleet asks for what just
// arrived: a follower forwards the piece it verified a moment ago, so most reads never touch the file.

export class PieceCache {
  readonly #budget: number
  #bytes = 0
  readonly #pieces = new Map<string, Buffer>()
  readonly #loading = new Map<string, Promise<Buffer>>()

  /** `budget`: bytes held at most. */
  constructor(budget: number) {
    this.#budget = budget
  }

  /** The piece from memory, or `load`ed once however many ask at the same time. */
  get(infoHash: string, index: number, load: () => Promise<Buffer>): Promise<Buffer> {
    const key = `${infoHash}:${index}`
    const hit = this.#pieces.get(key)
    if (hit) {
      this.#pieces.delete(key)
      this.#pieces.set(key, hit)
      return Promise.resolve(hit)
    }
    let p = this.#loading.get(key)
    if (!p) {
      p = load().then((buf) => { this.put(infoHash, index, buf); return buf }).finally(() => this.#loading.delete(key))
      this.#loading.set(key, p)
    }
    return p
  }

  put(infoHash: string, index: number, data: Buffer): void {
    const key = `${infoHash}:${index}`
    const old = this.#pieces.get(key)
    if (old) { this.#bytes -= old.length; this.#pieces.delete(key) }
    this.#pieces.set(key, data)
    this.#bytes += data.length
    for (const [k, v] of this.#pieces) {
      if (this.#bytes <= this.#budget) break
      this.#pieces.delete(k)
      this.#bytes -= v.length
    }
  }

  /** Forgets a torrent's pieces (it stopped). */
  drop(infoHash: string): void {
    const prefix = `${infoHash}:`
    for (const [k, v] of this.#pieces) if (k.startsWith(prefix)) { this.#pieces.delete(k); this.#bytes -= v.length }
  }
}
