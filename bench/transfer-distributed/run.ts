// bench: N synthetic files (null destination) through all four distributed roles, side by side with a
// one-BullMQ-job-per-file baseline in the same run; files/s and Redis bytes per file.
//   node bench/transfer-distributed/run.ts [--files 1000000] [--classes 1000] [--baseline-files 100000] [--copiers 1] [--baseline-workers 2]
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { freePort, makeTempDir, startProcess, stopProcess } from '../../support/services.ts'

const here = path.dirname(fileURLToPath(import.meta.url))
const { values: args } = parseArgs({ options: {
  files: { type: 'string', default: '1000000' }, classes: { type: 'string', default: '1000' },
  'baseline-files': { type: 'string', default: '100000' }, copiers: { type: 'string', default: '1' }, 'baseline-workers': { type: 'string', default: '2' },
  /** Copy batches each copier holds at once (default: the worker's own, concurrency/50 + 1). */
  batches: { type: 'string' },
  concurrency: { type: 'string', default: '256' }, size: { type: 'string', default: '100' },
  'skip-baseline': { type: 'boolean', default: false },
  /** core: every file streams through the shared copyFile; none: copiers settle without streaming (coordination only). */
  copy: { type: 'string', default: 'both' },
} })
const FILES = Number(args.files)
const CLASSES = Number(args.classes)
const PER_CLASS = Math.round(FILES / CLASSES)
const BASE_FILES = Number(args['baseline-files'])
const COPIERS = Number(args.copiers)
const BASE_WORKERS = Number(args['baseline-workers'])
const CONC = Number(args.concurrency)
const SIZE = Number(args.size)
const BATCHES = args.batches ? Number(args.batches) : Math.max(2, Math.ceil(CONC / 50) + 1)

async function usedMemory(r: Redis): Promise<number> {
  const info = await r.info('memory')
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0)
}

/** MEMORY USAGE summed over keys matching a pattern, grouped by the key's last segment. */
async function memoryByKind(r: Redis, match: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  let cursor = '0'
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', match, 'COUNT', 1000)
    cursor = next
    const pipe = r.pipeline()
    for (const k of keys) pipe.memory('USAGE', k, 'SAMPLES', 0)
    const res = (await pipe.exec()) ?? []
    keys.forEach((k, i) => { const kind = k.split(':').pop() ?? k; out[kind] = (out[kind] ?? 0) + Number(res[i]?.[1] ?? 0) })
  } while (cursor !== '0')
  return out
}

/** CPU seconds (user+system) a process has used so far, from /proc (Linux). */
async function cpuSeconds(pid: number | undefined): Promise<number> {
  if (!pid) return 0
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch { return 0 }
}

function spawnNode(script: string, argv: string[]): ChildProcess {
  return spawn(process.execPath, [script, ...argv], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, COLONY_LOG_LEVEL: 'warn' } })
}

async function killAll(procs: ChildProcess[]): Promise<void> {
  await Promise.all(procs.map((p) => stopProcess(p)))
}

async function sampleWhile<T>(r: Redis, base: number, work: Promise<T>): Promise<{ result: T; peak: number }> {
  let peak = 0
  let done = false
  const sampler = (async () => {
    while (!done) {
      try { peak = Math.max(peak, (await usedMemory(r)) - base) } catch { /* ignore */ }
      await new Promise((res) => setTimeout(res, 200))
    }
  })()
  const result = await work
  done = true
  await sampler
  return { result, peak }
}

async function benchColony(url: string, r: Redis, copy: 'core' | 'none', redisPid: number | undefined): Promise<Record<string, number | string | Record<string, number>>> {
  await r.flushall()
  const prefix = 'bench'
  const base = await usedMemory(r)
  const common = ['worker', '--redis', url, '--prefix', prefix, '--metrics', 'off']
  const roles = ['scanner', 'crawler', 'aggregator', ...Array.from({ length: COPIERS }, () => 'copier')]
  const procs: ChildProcess[] = [
    spawnNode(path.join(here, 'worker-main.ts'), [...common, '--role', 'scanner']),
    spawnNode(path.join(here, 'worker-main.ts'), [...common, '--role', 'crawler']),
    spawnNode(path.join(here, 'worker-main.ts'), [...common, '--role', 'aggregator']),
    ...Array.from({ length: COPIERS }, () => spawnNode(path.join(here, 'worker-main.ts'), [...common, '--role', 'copier', '--concurrency', String(CONC), '--batches', String(BATCHES)])),
  ]
  try {
    // Let the workers load (module graph, connections) before the clock starts.
    for (;;) { if ((await r.hlen(`${prefix}:workers`)) >= procs.length) break; await new Promise((res) => setTimeout(res, 200)) }
    const { createKeys } = await import('../../src/transfer/distributed/redis/keys.ts')
    const { createRedis, closeRedis } = await import('../../src/transfer/distributed/redis/client.ts')
    const { submitRun } = await import('../../src/transfer/distributed/submit.ts')
    const keys = createKeys(prefix)
    const client = createRedis(url)
    const cpu0 = await Promise.all([...procs.map((p) => cpuSeconds(p.pid)), cpuSeconds(redisPid)])
    const started = Date.now()
    const { run } = await submitRun(client, keys, { sources: [`synthetic:?classes=${CLASSES}&files=${PER_CLASS}&size=${SIZE}&variants=16${copy === 'none' ? '&copy=none' : ''}`], to: 'null:', batchSize: 100 })
    // Settled files over time, for the steady-state rate (10 % → 90 % of files) apart from start-up and tail.
    const progress: Array<[number, number]> = []
    const { peak } = await sampleWhile(r, base, (async () => {
      for (;;) {
        const [state, settled] = await Promise.all([r.hget(keys.meta(run), 'state'), r.hget(keys.stats(run), 'files')])
        progress.push([Date.now() - started, Number(settled ?? 0)])
        if (state === 'finished') return
        await new Promise((res) => setTimeout(res, 100))
      }
    })())
    const seconds = (Date.now() - started) / 1000
    const at = (f: number): number => progress.find(([, n]) => n >= f * FILES)?.[0] ?? seconds * 1000
    const steadyFilesPerSec = Math.round((0.8 * FILES) / ((at(0.9) - at(0.1)) / 1000))
    const firstFileMs = at(1 / FILES)
    const cpu1 = await Promise.all([...procs.map((p) => cpuSeconds(p.pid)), cpuSeconds(redisPid)])
    const cpu: Record<string, number> = {}
    ;[...roles, 'redis-server'].forEach((role, i) => { cpu[role] = (cpu[role] ?? 0) + ((cpu1[i] ?? 0) - (cpu0[i] ?? 0)) })
    const report = JSON.parse((await r.get(keys.report(run))) ?? '{}') as { ok: boolean; totals: { files: number; verified: number } }
    await r.hdel(keys.workers, ...(await r.hkeys(keys.workers)))
    const end = (await usedMemory(r)) - base
    const byKind = await memoryByKind(r, `${prefix}:run:*`)
    await closeRedis(client)
    const files = report.totals.verified
    const cpuUsPerFile: Record<string, number> = {}
    for (const [role, sec] of Object.entries(cpu)) cpuUsPerFile[role] = Math.round((sec * 1e6) / files * 10) / 10
    const totalCpu = Object.values(cpu).reduce((a, b) => a + b, 0)
    return { files, ok: String(report.ok), seconds, filesPerSec: Math.round(files / seconds), steadyFilesPerSec, firstFileMs, lastFileToFinishedMs: Math.round(seconds * 1000 - at(1)), cpuSeconds: cpu, cpuUsPerFile, cpuBoundFilesPerSecOn2Cores: Math.round((2 * files) / totalCpu), peakBytes: peak, endBytes: end, peakPerFile: peak / files, endPerFile: end / files, byKind }
  } finally {
    await killAll(procs)
  }
}

async function benchBullmq(url: string, r: Redis): Promise<Record<string, number | string>> {
  await r.flushall()
  const u = new URL(url)
  const base = await usedMemory(r)
  const queue = new Queue('baseline', { connection: { host: u.hostname, port: Number(u.port), maxRetriesPerRequest: null } })
  const enqStart = Date.now()
  for (let k = 0; k < BASE_FILES; k += 1000) {
    await queue.addBulk(Array.from({ length: Math.min(1000, BASE_FILES - k) }, (_, j) => {
      const i = k + j
      const c = `c${String(Math.floor(i / PER_CLASS)).padStart(5, '0')}`
      const key = `lib/${c}/v${i % 16}/seg_${String(Math.floor((i % PER_CLASS) / 16)).padStart(5, '0')}.ts`
      return { name: 'copy', data: { c, source: `http://origin.synthetic/${key}`, key }, opts: { attempts: 4, backoff: { type: 'exponential', delay: 200 } } }
    }))
  }
  const enqSeconds = (Date.now() - enqStart) / 1000
  const queued = (await usedMemory(r)) - base
  const procs = Array.from({ length: BASE_WORKERS }, () => spawnNode(path.join(here, 'bullmq-baseline.ts'), ['worker', url, 'baseline', String(CONC), String(SIZE)]))
  try {
    const started = Date.now()
    for (;;) {
      const c = await queue.getJobCounts('completed', 'failed')
      if ((c.completed ?? 0) + (c.failed ?? 0) >= BASE_FILES) break
      await new Promise((res) => setTimeout(res, 100))
    }
    const seconds = (Date.now() - started) / 1000
    const end = (await usedMemory(r)) - base
    return { files: BASE_FILES, enqueueSeconds: enqSeconds, seconds, filesPerSec: Math.round(BASE_FILES / seconds), queuedBytes: queued, queuedPerFile: queued / BASE_FILES, endBytes: end, endPerFile: end / BASE_FILES }
  } finally {
    await killAll(procs)
    await queue.close()
  }
}

const dir = await makeTempDir('colony-bench-redis-')
const port = await freePort()
const redisProc = await startProcess('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], { port, dir })
const url = `redis://127.0.0.1:${port}`
const r = new Redis(url, { maxRetriesPerRequest: null })
try {
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ')
  console.log(`machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), load ${load}, ${new Date().toISOString()}`)
  const results: Record<string, Record<string, number | string | Record<string, number>>> = {}
  const modes = args.copy === 'both' ? ['none', 'core'] as const : [args.copy as 'core' | 'none']
  for (const mode of modes) {
    console.log(`colony (copy=${mode}): ${FILES} files in ${CLASSES} classes, ${COPIERS} copier processes × concurrency ${CONC}, 1 scanner, 1 crawler, 1 aggregator; ${SIZE}-byte synthetic bodies → null:`)
    results[mode] = await benchColony(url, r, mode, redisProc.pid)
    console.log(JSON.stringify(results[mode], null, 1))
  }
  const colony = (results.core ?? results.none) as Record<string, number | string | Record<string, number>>
  let baseline: Record<string, number | string> | undefined
  if (!args['skip-baseline']) {
    console.log(`baseline: ${BASE_FILES} BullMQ jobs (one per file), ${BASE_WORKERS} worker processes × concurrency ${CONC}`)
    baseline = await benchBullmq(url, r)
    console.log(JSON.stringify(baseline, null, 1))
    for (const [mode, res] of Object.entries(results)) {
      console.log(`\nthroughput (copy=${mode}): colony ${res.filesPerSec} files/s vs baseline ${baseline.filesPerSec} files/s → ${(Number(res.filesPerSec) / Number(baseline.filesPerSec)).toFixed(2)}×`)
    }
    console.log(`Redis bytes/file: colony ${Number(colony.endPerFile).toFixed(2)} at end (peak ${Number(colony.peakPerFile).toFixed(2)}) vs baseline ${Number(baseline.queuedPerFile).toFixed(0)} queued / ${Number(baseline.endPerFile).toFixed(0)} completed-kept`)
    console.log(`baseline extrapolated to ${FILES} files: ${(FILES / Number(baseline.filesPerSec)).toFixed(0)} s and ${((Number(baseline.queuedPerFile) * FILES) / 1e9).toFixed(2)} GB queued (linear in N)`)
  }
  for (const [mode, res] of Object.entries(results)) {
    console.log(`targets (copy=${mode}): ≥ 50000 files/s → ${Number(res.filesPerSec) >= 50_000 ? 'met' : 'MISSED'}; ≤ 16 B/file → ${Number(res.peakPerFile) <= 16 ? 'met (peak)' : Number(res.endPerFile) <= 16 ? 'met at end, not at peak' : 'MISSED'}`)
  }
  await mkdir(path.join(here, '..', '.work'), { recursive: true })
  await writeFile(path.join(here, '..', '.work', `transfer-distributed-${Date.now()}.json`), JSON.stringify({ colony: results, baseline, files: FILES, classes: CLASSES, copiers: COPIERS, baselineWorkers: BASE_WORKERS, concurrency: CONC }, null, 2))
} finally {
  r.disconnect()
  await stopProcess(redisProc)
}
