// Copiers name files by (class, index); this keeps decoded class lists in memory, extending them
// only by the chunks appended since (chunks are immutable), bounded as an LRU.
import type { Keys } from './keys.ts'
import type { ScriptedRedis } from './scripts.ts'
import { FileList, decodeFileChunk } from './file-list.ts'
import { TRANSFER_DEFAULTS } from '../../defaults.ts'

export class FileListCache {
  readonly #redis: ScriptedRedis
  readonly #keys: Keys
  readonly #max: number
  readonly #lists = new Map<string, { chunks: number; list: FileList }>()

  constructor(redis: ScriptedRedis, keys: Keys, max: number = TRANSFER_DEFAULTS.distributed.fileListCacheSize) {
    this.#redis = redis
    this.#keys = keys
    this.#max = max
  }

  /** The class's list, covering at least index `need` if Redis has it. */
  async get(run: string, classId: string, need: number): Promise<FileList> {
    const id = `${run}\u0000${classId}`
    let hit = this.#lists.get(id)
    if (hit) { this.#lists.delete(id); this.#lists.set(id, hit) }
    if (!hit || hit.list.length <= need) {
      const from = hit?.chunks ?? 0
      const chunks = await this.#redis.lrangeBuffer(this.#keys.files(run, classId), from, -1)
      if (!hit) hit = { chunks: 0, list: new FileList() }
      for (const c of chunks) hit.list.files.push(...decodeFileChunk(c))
      hit.chunks += chunks.length
      this.#lists.set(id, hit)
      while (this.#lists.size > this.#max) {
        const oldest = this.#lists.keys().next().value
        if (oldest === undefined) break
        this.#lists.delete(oldest)
      }
    }
    return hit.list
  }
}
