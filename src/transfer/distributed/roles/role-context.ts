import type { Logger } from '../../../shared/logger.ts'
import type { DistributedCore } from '../core-port.ts'
import type { Keys } from '../redis/keys.ts'
import type { RunConfigCache } from '../run-config.ts'
import type { ScriptedRedis } from '../redis/scripts.ts'
import type { WorkerMetrics } from '../worker-metrics.ts'
import type { RunConfig } from '../../wire-format.ts'

/** What every role of a worker process shares. */
export type RoleContext = {
  redis: ScriptedRedis
  keys: Keys
  log: Logger
  metrics: WorkerMetrics
  configs: RunConfigCache
  /** The core for a run, built once per run per process. */
  coreFor: (config: RunConfig) => Promise<DistributedCore>
  /** Unique consumer name of this process (host:pid:random). */
  consumer: string
  /** Idle time after which another worker takes a job over. */
  claimIdleMs: number
  /** Aborted on stop: loops stop taking work. */
  signal: AbortSignal
  /** Aborted a grace period after stop: in-flight work gives up and is left for a reclaim. */
  workSignal: AbortSignal
}
