// A run's --bwlimit / --max-rps across the whole cluster: one token bucket per limit in Redis (lua/take-tokens.lua),
// which every worker draws on in chunks (LeasePacer), so the sum over all workers keeps to the rate while each worker
// makes about 1000/leaseMs round trips a second at most per limit.
import type { Keys } from './redis/keys.ts'
import { takeTokens, type ScriptedRedis } from './redis/scripts.ts'
import { limitRates, type SourceLimits } from '../core/limits/source-limits.ts'
import { byteBurst, LeasePacer, requestBurst } from '../core/limits/rate-limit.ts'
import type { RunConfig } from '../wire-format.ts'
import type { WorkerMetrics } from './worker-metrics.ts'

/** The pacers for one run's sources in this worker; undefined when the run sets no limit. */
export function clusterSourceLimits(redis: ScriptedRedis, keys: Keys, config: RunConfig, metrics?: Pick<WorkerMetrics, 'limitTokens' | 'limitWaitSeconds'>): SourceLimits | undefined {
  const { bwlimit, maxRps, timeZone } = config.core
  const rates = limitRates({ ...(bwlimit !== undefined ? { bwlimit } : {}), ...(maxRps !== undefined ? { maxRps } : {}), ...(timeZone ? { timeZone } : {}) })
  if (!rates.bytes && !rates.requests) return undefined
  const remote = (name: 'bytes' | 'requests') => async (amount: number, rate: number, burst: number): Promise<number> => {
    const wait = await takeTokens(redis, { key: keys.limit(config.run, name), amount, rate, burst })
    metrics?.limitTokens.inc({ limit: name }, amount)
    metrics?.limitWaitSeconds.inc({ limit: name }, wait / 1000)
    return wait
  }
  return {
    ...(rates.bytes ? { bytes: new LeasePacer(remote('bytes'), rates.bytes, byteBurst, 1) } : {}),
    ...(rates.requests ? { requests: new LeasePacer(remote('requests'), rates.requests, requestBurst, 1) } : {}),
  }
}
