// Submitting a run: the config and the first scan jobs go into Redis in one atomic step; submitting the
// same sources → destination again finds the run and resumes following it (a no-op for Redis).
import { readFile, stat } from 'node:fs/promises'
import { scanJob, type RunConfig } from '../wire-format.ts'
import { DistributedTransferError } from './errors.ts'
import type { Keys } from './redis/keys.ts'
import { createRun, type ScriptedRedis } from './redis/scripts.ts'
import { configIdentity, deriveRunName } from './run-config.ts'
import { TRANSFER_DEFAULTS } from '../defaults.ts'
import { ClassFilter, type ClassFilterSpec } from '../core/class-filter.ts'

const DISTRIBUTED = TRANSFER_DEFAULTS.distributed

export type SubmitOptions = {
  sources: string[]
  to: string
  /** Run name. @defaultValue derived from sources + destination */
  run?: string
  /** Attempts after the first before a file is reported failed. @defaultValue TRANSFER_DEFAULTS.distributed.retries */
  retries?: number
  /** Files per copy job, 1 to TRANSFER_DEFAULTS.distributed.batchSize. @defaultValue TRANSFER_DEFAULTS.distributed.batchSize */
  batchSize?: number
  /** Continuous sync: re-scan every this many ms. @defaultValue undefined (one-shot) */
  watchMs?: number
  /** @defaultValue 'local' */
  executor?: 'local' | 'lambda'
  lambdaFunction?: string
  /** Options the core needs to build sources/destinations (plain JSON). @defaultValue {} */
  core?: Record<string, unknown>
  /** Class id globs; non-empty filters are part of the derived run name and of the run's identity. @defaultValue every class */
  classFilter?: ClassFilterSpec
}

/** Catalog files on the submitting machine are inlined so scanners elsewhere can read them. */
export async function inlineLocalFiles(sources: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const [i, s] of sources.entries()) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(s) && !s.startsWith('file:')) continue
    const path = s.startsWith('file:') ? new URL(s).pathname : s
    try {
      const st = await stat(path)
      if (st.isFile() && st.size <= DISTRIBUTED.maxInlineCatalogBytes) out[String(i)] = await readFile(path, 'utf8')
    } catch { /* not a local file: the core will say what it is */ }
  }
  return out
}

/** (Re)stores the text of local catalog files; a --watch submitter calls it every cycle so edits are seen. */
export async function storeInline(redis: ScriptedRedis, keys: Keys, run: string, inline: Record<string, string>): Promise<void> {
  const fields = Object.entries(inline).flatMap(([i, text]) => [`inline:${i}`, text])
  if (fields.length) await redis.hset(keys.meta(run), ...fields)
}

export async function submitRun(redis: ScriptedRedis, keys: Keys, options: SubmitOptions): Promise<{ run: string; created: boolean; config: RunConfig }> {
  const filter = new ClassFilter(options.classFilter)
  const run = options.run ?? deriveRunName(options.sources, options.to, filter.empty ? undefined : options.classFilter)
  if (!/^[\w.@-]{1,128}$/.test(run)) throw new DistributedTransferError('TRANSFER_DIST_BAD_JOB', `run names are letters, digits and . _ @ - (got "${run}")`, { status: 400 })
  const inline = await inlineLocalFiles(options.sources)
  const config: RunConfig = {
    run, sources: options.sources, to: options.to, retries: options.retries ?? DISTRIBUTED.retries,
    batchSize: Math.min(DISTRIBUTED.batchSize, Math.max(1, options.batchSize ?? DISTRIBUTED.batchSize)),
    executor: options.executor ?? 'local', core: options.core ?? {}, createdAt: new Date().toISOString(),
    ...(options.watchMs ? { watchMs: options.watchMs } : {}),
    ...(filter.empty ? {} : { classFilter: { include: [...filter.include], exclude: [...filter.exclude] } }),
    ...(options.lambdaFunction ? { lambdaFunction: options.lambdaFunction } : {}),
  }
  const prior = await redis.hget(keys.meta(run), 'config')
  if (prior && configIdentity(JSON.parse(prior) as RunConfig) !== configIdentity(config)) {
    throw new DistributedTransferError('TRANSFER_DIST_RUN_CONFLICT', `run "${run}" already exists with other sources, destination or class filter (pick another --run)`, { status: 409, details: { run } })
  }
  // Inlined before the scan jobs exist, so no scanner can see the run without its catalogs.
  if (Object.keys(inline).length) await storeInline(redis, keys, run, inline)
  const scans = config.sources.map((_s, source) => scanJob({ run, source, generation: 1 }))
  if (await createRun(redis, { keys, config, scans })) {
    if (config.watchMs) await redis.set(keys.lock(run, 'watch'), 'submit', 'PX', config.watchMs)
    return { run, created: true, config }
  }
  const existing = JSON.parse(await redis.hget(keys.meta(run), 'config') ?? '{}') as RunConfig
  if (configIdentity(existing) !== configIdentity(config)) {
    throw new DistributedTransferError('TRANSFER_DIST_RUN_CONFLICT', `run "${run}" already exists with other sources, destination or class filter (pick another --run)`, { status: 409, details: { run } })
  }
  const state = await redis.hget(keys.meta(run), 'state')
  if (state !== 'finished') await redis.sadd(keys.active, run)
  return { run, created: false, config: existing }
}
