import type { Keys } from './keys.ts'
import type { ScriptedRedis } from './scripts.ts'
import { TRANSFER_DEFAULTS } from '../../defaults.ts'

/** The runs workers serve, re-read at most every `ttlMs`. */
export class ActiveRuns {
  readonly #redis: ScriptedRedis
  readonly #keys: Keys
  readonly #ttlMs: number
  #at = 0
  #runs: string[] = []

  constructor(redis: ScriptedRedis, keys: Keys, ttlMs: number = TRANSFER_DEFAULTS.distributed.activeRunsTtlMs) {
    this.#redis = redis
    this.#keys = keys
    this.#ttlMs = ttlMs
  }

  async list(): Promise<string[]> {
    if (Date.now() - this.#at > this.#ttlMs) {
      this.#runs = (await this.#redis.smembers(this.#keys.active)).sort()
      this.#at = Date.now()
    }
    return this.#runs
  }
}
