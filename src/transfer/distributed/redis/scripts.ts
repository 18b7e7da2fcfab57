// The distributed engine's Redis Lua scripts (lua/*.lua, read once at module load), each wrapped by a typed function
// that takes named fields and builds the KEYS and ARGV itself. Each script makes one state transition atomic, so a
// worker killed between two Redis calls can never leave a batch half-settled (bits set but the queue entry still
// pending is harmless; the reverse would drop files, and the scripts make the reverse impossible).
import { readFileSync } from 'node:fs'
import type { ChainableCommander, Redis } from 'ioredis'
import type { ClassRecord, ClassState, CopyBatchJob, CrawlJob, RunConfig, ScanJob } from '../../wire-format.ts'
import { groupOf, type Keys } from './keys.ts'

const lua = (name: string): string => readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8')

/** ioredis command name → script and its number of keys (takeEntries: every key it is given). */
const SCRIPTS = {
  settleBatch: { lua: lua('settle-batch'), numberOfKeys: 12 },
  appendFiles: { lua: lua('append-files'), numberOfKeys: 2 },
  enqueueBatches: { lua: lua('enqueue-batches'), numberOfKeys: 2 },
  registerClass: { lua: lua('register-class'), numberOfKeys: 3 },
  patchClass: { lua: lua('patch-class'), numberOfKeys: 3 },
  ackAndCount: { lua: lua('ack-and-count'), numberOfKeys: 2 },
  submitRun: { lua: lua('submit-run'), numberOfKeys: 4 },
  takeEntries: { lua: lua('take-entries') },
  releaseLock: { lua: lua('release-lock'), numberOfKeys: 1 },
  takeTokens: { lua: lua('take-tokens'), numberOfKeys: 1 },
} as const

type Arg = string | number | Buffer
type Call<R> = (...args: Arg[]) => Promise<R>
type ScriptedCommands = {
  settleBatch: Call<[number, number, number]>
  appendFiles: Call<number>
  enqueueBatches: Call<number>
  registerClass: Call<number>
  patchClass: Call<number>
  ackAndCount: Call<number>
  submitRun: Call<number>
  takeEntries: Call<Array<[string, Array<[string, string[] | null]>]>>
  releaseLock: Call<number>
  takeTokens: Call<number>
}

/** A connection with the scripts defined (createRedis gives one); `scripted` is a type brand, absent at run time. */
export type ScriptedRedis = Redis & { readonly scripted: true }

/** A pipeline that can queue registerClass and patchClass. */
export type ScriptedPipeline = ChainableCommander & { readonly scripted: true }

export function defineScripts(redis: Redis): ScriptedRedis {
  for (const [name, script] of Object.entries(SCRIPTS)) redis.defineCommand(name, script)
  return redis as ScriptedRedis
}

export function scriptedPipeline(redis: ScriptedRedis): ScriptedPipeline {
  return redis.pipeline() as ScriptedPipeline
}

const commands = (target: ScriptedRedis): ScriptedCommands => target as unknown as ScriptedCommands
const queued = (target: ScriptedPipeline): { [K in keyof ScriptedCommands]: (...args: Arg[]) => unknown } => target as unknown as { [K in keyof ScriptedCommands]: (...args: Arg[]) => unknown }

// ---- settle a copy batch ------------------------------------------------------------------------------------------

/** A file of a batch copied and verified (or found present): index, bytes, skipped as present, origin fingerprint. */
export type DoneFile = { i: number; bytes: number; skipped: boolean; fp?: number; rewritten?: boolean }

/** The done files as the settle script takes them: one bitmap slice, totals, and per-file detail it reads only when needed. */
export function doneSlice(done: DoneFile[]): { b0: number; mask: Buffer; bytes: number; skipped: number; sizes: string; skipMask: Buffer; fps: Buffer; rewritten: number; rewriteMask: Buffer } {
  if (done.length === 0) return { b0: 0, mask: Buffer.alloc(0), bytes: 0, skipped: 0, sizes: '', skipMask: Buffer.alloc(0), fps: Buffer.alloc(0), rewritten: 0, rewriteMask: Buffer.alloc(0) }
  let sorted = true
  for (let k = 1; k < done.length; k++) if ((done[k] as DoneFile).i < (done[k - 1] as DoneFile).i) { sorted = false; break }
  if (!sorted) done.sort((a, b) => a.i - b.i)
  const b0 = Math.floor((done[0] as DoneFile).i / 8)
  const n = Math.floor((done[done.length - 1] as DoneFile).i / 8) - b0 + 1
  const mask = Buffer.alloc(n)
  const skipMask = Buffer.alloc(n)
  const rewriteMask = Buffer.alloc(n)
  const fps = done[0]?.fp === undefined ? Buffer.alloc(0) : Buffer.alloc(4 * done.length)
  const sizes: number[] = []
  let bytes = 0
  let skipped = 0
  let anySkipped = false
  let rewritten = 0
  for (let k = 0; k < done.length; k++) {
    const d = done[k] as DoneFile
    const byte = (d.i >> 3) - b0
    const bit = 0x80 >> (d.i & 7)
    mask[byte] = (mask[byte] as number) | bit
    if (d.skipped) { skipMask[byte] = (skipMask[byte] as number) | bit; skipped++; anySkipped = true }
    if (d.rewritten) { rewriteMask[byte] = (rewriteMask[byte] as number) | bit; rewritten++ }
    bytes += d.bytes
    sizes.push(d.bytes)
    if (fps.length) fps.writeUInt32BE(d.fp ?? 0, 4 * k)
  }
  return { b0, mask, bytes, skipped, sizes: sizes.join(','), skipMask: anySkipped ? skipMask : Buffer.alloc(0), fps, rewritten, rewriteMask: rewritten ? rewriteMask : Buffer.alloc(0) }
}

export type SettleBatchInput = {
  keys: Keys
  run: string
  classId: string
  /** The copy or retry stream holding the batch's entry, and the entry's id. */
  stream: string
  entryId: string
  /** Files copied and verified, or found already present. */
  done: DoneFile[]
  /** Files failed for good, with their problem JSON (FileProblem). */
  failures: Array<{ index: number; problem: string }>
  /** Files to copy again, and the retry job that names them (none when empty). */
  retry?: { files: number; job: CopyBatchJob }
}

/** What settling did: whether this call acked the entry, files newly done, failures newly recorded. */
export type SettleResult = { acked: boolean; files: number; failures: number }

/** Settles a copy batch in one step (lua/settle-batch.lua); a batch settled twice counts nothing twice. */
export async function settleBatch(redis: ScriptedRedis, input: SettleBatchInput): Promise<SettleResult> {
  const { keys, run: r, classId: c } = input
  const d = doneSlice(input.done)
  const [acked, files, failures] = await commands(redis).settleBatch(
    input.stream, keys.done(r, c), keys.failed(r, c), keys.bytes(r), keys.retries(r), keys.skipped(r), keys.version(r), keys.stats(r),
    keys.problems(r, c), keys.queue('retry'), keys.fingerprint(r, c), keys.rewritten(r),
    groupOf('copy'), input.entryId, c, d.b0, d.mask, input.done.length, d.bytes, d.skipped, d.sizes, d.skipMask, d.fps, d.rewritten, d.rewriteMask,
    input.failures.length, ...input.failures.flatMap((f) => [f.index, f.problem]),
    input.retry?.files ?? 0, input.retry ? JSON.stringify(input.retry.job) : '',
  )
  return { acked: acked === 1, files, failures }
}

// ---- class file lists and copy batches ----------------------------------------------------------------------------

/** Appends a file-list chunk unless the list no longer has `expectedChunks` chunks; false when it changed underneath. */
export async function appendFiles(redis: ScriptedRedis, input: { keys: Keys; run: string; classId: string; expectedChunks: number; chunk: Buffer; files: number }): Promise<boolean> {
  const { keys, run: r, classId: c } = input
  return await commands(redis).appendFiles(keys.files(r, c), keys.count(r), c, input.expectedChunks, input.chunk, input.files) !== -1
}

/** Queues copy batches and moves the class cursor from `fromCursor` to `toCursor`; false when the cursor had moved. */
export async function enqueueBatches(redis: ScriptedRedis, input: { keys: Keys; run: string; classId: string; fromCursor: number; toCursor: number; jobs: CopyBatchJob[] }): Promise<boolean> {
  const { keys, run: r, classId: c } = input
  return await commands(redis).enqueueBatches(keys.cursor(r), keys.queue('copy'), c, input.fromCursor, input.toCursor, ...input.jobs.map((j) => JSON.stringify(j))) === 1
}

// ---- class records ------------------------------------------------------------------------------------------------

export type RegisterClassInput = {
  keys: Keys
  run: string
  record: ClassRecord
  /** Queued with the registration; none for a skipped class. */
  crawl?: CrawlJob
}

const registerArgs = (i: RegisterClassInput): Arg[] =>
  [i.keys.classes(i.run), i.keys.queue('crawl'), i.keys.version(i.run), i.record.id, JSON.stringify(i.record), i.crawl ? JSON.stringify(i.crawl) : '']

/** Registers a class once, with its crawl job; false when the class was known already. */
export async function registerClass(redis: ScriptedRedis, input: RegisterClassInput): Promise<boolean> {
  return await commands(redis).registerClass(...registerArgs(input)) === 1
}

/** registerClass queued on a pipeline (the reply, 1 or 0, comes with the pipeline's). */
export function queueRegisterClass(pipe: ScriptedPipeline, input: RegisterClassInput): void {
  queued(pipe).registerClass(...registerArgs(input))
}

export type PatchClassInput = {
  keys: Keys
  run: string
  classId: string
  /** Patch only a class in one of these states. @defaultValue any state */
  ifStateIn?: ClassState[]
  /** Fields to set; a null value deletes the field. */
  patch: { [K in keyof ClassRecord]?: ClassRecord[K] | null }
  /** Queued with the patch (a re-crawl in --watch). @defaultValue none */
  crawl?: CrawlJob
}

const patchArgs = (i: PatchClassInput): Arg[] =>
  [i.keys.classes(i.run), i.keys.version(i.run), i.keys.queue('crawl'), i.classId, (i.ifStateIn ?? []).join(','), JSON.stringify(i.patch), i.crawl ? JSON.stringify(i.crawl) : '']

/** Merges a patch into a class record; false when the class is unknown or in another state. */
export async function patchClass(redis: ScriptedRedis, input: PatchClassInput): Promise<boolean> {
  return await commands(redis).patchClass(...patchArgs(input)) === 1
}

/** patchClass queued on a pipeline. */
export function queuePatchClass(pipe: ScriptedPipeline, input: PatchClassInput): void {
  queued(pipe).patchClass(...patchArgs(input))
}

// ---- runs, queues, locks ------------------------------------------------------------------------------------------

/** Creates a run with its first scan jobs in one step; false when the run already exists. */
export async function createRun(redis: ScriptedRedis, input: { keys: Keys; config: RunConfig; scans: ScanJob[] }): Promise<boolean> {
  const { keys, config } = input
  return await commands(redis).submitRun(keys.meta(config.run), keys.queue('scan'), keys.runs, keys.active,
    JSON.stringify(config), config.createdAt, config.sources.length, config.run, ...input.scans.map((j) => JSON.stringify(j))) === 1
}

/**
 * Acks and deletes a stream entry and, only if this call acked it, adds `counter.by` to a hash field (exactly-once
 * accounting); true when this call acked it.
 */
export async function ackAndCount(redis: ScriptedRedis, input: { stream: string; group: string; entryId: string; counter?: { key: string; field: string; by: number } }): Promise<boolean> {
  const c = input.counter
  return await commands(redis).ackAndCount(input.stream, c?.key ?? input.stream, input.group, input.entryId, c?.field ?? '', c?.by ?? 0) === 1
}

/** Raw XREADGROUP-shaped reply: per stream, its entries as [id, fields]. */
export type StreamEntries = Array<[string, Array<[string, string[] | null]>]>

/** Up to `count` new entries from `streams` in priority order (an earlier stream drained first), without blocking. */
export function takeEntries(redis: ScriptedRedis, input: { streams: string[]; group: string; consumer: string; count: number }): Promise<StreamEntries> {
  return commands(redis).takeEntries(input.streams.length, ...input.streams, input.group, input.consumer, input.count)
}

/** Deletes a lock only if `token` still holds it. */
export async function releaseLock(redis: ScriptedRedis, input: { key: string; token: string }): Promise<boolean> {
  return await commands(redis).releaseLock(input.key, input.token) === 1
}

/** Reserves `amount` tokens of a run's bucket (lua/take-tokens.lua); resolves to the ms to wait before spending them. */
export async function takeTokens(redis: ScriptedRedis, input: { key: string; amount: number; rate: number; burst: number }): Promise<number> {
  return await commands(redis).takeTokens(input.key, Math.ceil(input.amount), input.rate, input.burst) / 1000
}
