// A submitted run's identity and settings: RunConfig (wire-format.ts) is stored once in Redis (meta.config) so any
// worker on any machine builds the same sources, destination and policies from it. Credentials never go in there —
// each worker (or Lambda) gets them from its own AWS chain.
import { createHash } from 'node:crypto'
import type { RunConfig } from '../wire-format.ts'
import { ClassFilter } from '../core/class-filter.ts'
import type { Keys } from './redis/keys.ts'
import type { ScriptedRedis } from './redis/scripts.ts'

/** The part of a config that decides whether a second submit is "the same run": sources, destination, class filter. */
export function configIdentity(c: Pick<RunConfig, 'sources' | 'to' | 'classFilter'>): string {
  const filter = new ClassFilter(c.classFilter).identity()
  return JSON.stringify({ sources: c.sources, to: c.to, ...(filter ? { filter } : {}) })
}

/** A stable run name from what is copied where (and which classes): submitting the same command again resumes it. */
export function deriveRunName(sources: string[], to: string, classFilter?: RunConfig['classFilter']): string {
  const h = createHash('sha256').update(configIdentity({ sources, to, ...(classFilter ? { classFilter } : {}) })).digest('hex').slice(0, 12)
  const first = sources[0] ?? 'run'
  const slug = first.replace(/^[a-z0-9+]+:\/\//i, '').replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').slice(-24)
  return `${slug || 'run'}-${h}`
}

/** Loads configs by run name, cached: a config never changes after submit. */
export class RunConfigCache {
  readonly #redis: ScriptedRedis
  readonly #keys: Keys
  readonly #cache = new Map<string, RunConfig>()

  constructor(redis: ScriptedRedis, keys: Keys) {
    this.#redis = redis
    this.#keys = keys
  }

  async get(run: string): Promise<RunConfig | undefined> {
    const hit = this.#cache.get(run)
    if (hit) return hit
    const raw = await this.#redis.hget(this.#keys.meta(run), 'config')
    if (!raw) return undefined
    const config = JSON.parse(raw) as RunConfig
    this.#cache.set(run, config)
    return config
  }
}
