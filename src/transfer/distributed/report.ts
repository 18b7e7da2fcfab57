// The run report, assembled from Redis into the same RunReport shape the embedded engine writes.
// Only failed files are named (their indices resolve through the stored file list).
import type { ClassReport, RunReport } from '../core/types.ts'
import type { Keys } from './redis/keys.ts'
import type { ScriptedRedis } from './redis/scripts.ts'
import { classPassed } from '../core/report.ts'
import { FileList } from './redis/file-list.ts'
import type { ClassRecord, CrawlProblem, FileProblem, RunConfig } from '../wire-format.ts'
import { readRunMeta } from './redis/run-state.ts'

export type ClassProgress = { record: ClassRecord; files: number; verified: number; failed: number; bytes: number; retries: number; skippedPresent: number; rewritten: number }

/** Per-class counters for every class of a run (one pipelined round trip per 500 classes). */
export async function readClassProgress(redis: ScriptedRedis, keys: Keys, r: string): Promise<ClassProgress[]> {
  const [classes, counts, bytes, retries, skipped, rewritten] = await Promise.all([
    redis.hgetall(keys.classes(r)), redis.hgetall(keys.count(r)), redis.hgetall(keys.bytes(r)), redis.hgetall(keys.retries(r)), redis.hgetall(keys.skipped(r)),
    redis.hgetall(keys.rewritten(r)),
  ])
  const records = Object.values(classes).map((raw) => JSON.parse(raw) as ClassRecord).sort((a, b) => a.id.localeCompare(b.id))
  const out: ClassProgress[] = []
  for (let k = 0; k < records.length; k += 500) {
    const slice = records.slice(k, k + 500)
    const pipe = redis.pipeline()
    for (const rec of slice) pipe.bitcount(keys.done(r, rec.id)).bitcount(keys.failed(r, rec.id))
    const res = (await pipe.exec()) ?? []
    slice.forEach((rec, n) => {
      out.push({
        record: rec, files: Number(counts[rec.id] ?? 0),
        verified: Number(res[2 * n]?.[1] ?? 0), failed: Number(res[2 * n + 1]?.[1] ?? 0),
        bytes: Number(bytes[rec.id] ?? 0), retries: Number(retries[rec.id] ?? 0), skippedPresent: Number(skipped[rec.id] ?? 0),
        rewritten: Number(rewritten[rec.id] ?? 0),
      })
    })
  }
  return out
}

async function missingOf(redis: ScriptedRedis, keys: Keys, r: string, p: ClassProgress): Promise<ClassReport['missing']> {
  if (p.failed === 0 && !p.record.problems && p.record.state !== 'failed') return []
  const problems = await redis.hgetall(keys.problems(r, p.record.id))
  const out: ClassReport['missing'] = []
  if (p.record.state === 'failed' && p.record.message) out.push({ key: '', source: p.record.source, code: p.record.code ?? 'TRANSFER_CLASS_FAILED', message: p.record.message })
  let list: FileList | undefined
  for (const [field, raw] of Object.entries(problems)) {
    const problem = JSON.parse(raw) as Partial<CrawlProblem> & FileProblem
    if (field.startsWith('crawl:')) {
      out.push({ key: problem.key ?? '', source: problem.source ?? '', code: problem.code, message: problem.message })
      continue
    }
    list ??= FileList.fromChunks(await redis.lrangeBuffer(keys.files(r, p.record.id), 0, -1))
    const ref = list.files[Number(field)]
    out.push({ key: ref?.key ?? `#${field}`, source: ref?.source ?? '', code: problem.code, message: problem.message })
  }
  return out.sort((a, b) => a.key.localeCompare(b.key))
}

function reportState(p: ClassProgress): ClassReport['state'] {
  const s = p.record.state
  if (s === 'skipped' || s === 'failed' || s === 'verified') return s
  return 'incomplete'
}

/** Builds the RunReport of a run from its current Redis state (final once the run has finished). */
export async function buildDistributedReport(redis: ScriptedRedis, keys: Keys, r: string, config: RunConfig): Promise<RunReport> {
  const meta = await readRunMeta(redis, keys, r)
  const progress = await readClassProgress(redis, keys, r)
  const classes: ClassReport[] = []
  for (const p of progress) {
    classes.push({
      id: p.record.id, source: p.record.source, state: reportState(p),
      ...(p.record.skipReason ? { skipReason: p.record.skipReason } : {}),
      ...(p.record.state === 'skipped' && p.record.message ? { skipMessage: p.record.message } : {}),
      files: p.files, verified: p.verified, bytes: p.bytes, retries: p.retries,
      missing: await missingOf(redis, keys, r, p),
    })
  }
  const totals: RunReport['totals'] = { classes: classes.length, files: 0, verified: 0, skippedPresent: 0, bytes: 0, retries: 0, missing: 0, skippedClasses: 0 }
  let rewrittenPlaylists = 0
  for (const [n, c] of classes.entries()) {
    totals.files += c.files; totals.verified += c.verified; totals.bytes += c.bytes; totals.retries += c.retries
    totals.missing += c.missing.length; totals.skippedPresent += progress[n]?.skippedPresent ?? 0
    rewrittenPlaylists += progress[n]?.rewritten ?? 0
    if (c.state === 'skipped') totals.skippedClasses++
  }
  // As in the embedded report: counted when --rewrite-uri rules were given.
  if (config.core.rewriteUri?.length) totals.rewrittenPlaylists = rewrittenPlaylists
  const filter = config.classFilter
  const filtered = filter ? config.sources.reduce((n, _s, src) => n + Number(meta[`filtered:${src}`] ?? 0), 0) : 0
  return {
    run: r, destination: config.to, startedAt: meta.createdAt ?? config.createdAt, finishedAt: meta.finishedAt ?? new Date().toISOString(),
    ok: classes.every(classPassed) && totals.verified === totals.files,
    totals, ...(filter ? { filtered: { classes: filtered, include: filter.include ?? [], exclude: filter.exclude ?? [] } } : {}), classes,
  }
}
