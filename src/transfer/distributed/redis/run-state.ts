// Typed reads of a run's meta and stats hashes (their fields are listed in wire-format.ts).
import type { RunMeta, RunStats } from '../../wire-format.ts'
import type { Keys } from './keys.ts'
import type { ScriptedRedis } from './scripts.ts'

export function readRunMeta(redis: ScriptedRedis, keys: Keys, run: string): Promise<RunMeta> {
  return redis.hgetall(keys.meta(run))
}

export function readRunStats(redis: ScriptedRedis, keys: Keys, run: string): Promise<RunStats> {
  return redis.hgetall(keys.stats(run))
}
