// Peak memory of one embedded `colony transfer` against the size of the library: tiny files (100–400 B) in many
// classes, served by nginx, copied to a directory with the defaults. For each size it prints the peak RSS of the
// colony process (VmHWM: every thread, copy workers included, is one process), the RSS at each phase, files
// verified, wall and CPU time, and how long after the first playlist was parsed the first copy started.
//   node bench/transfer/memory.ts                     # 100k and 500k files
//   node bench/transfer/memory.ts --files 2000000     # one size
// Libraries are written once under $TMPDIR/colony-bench-memory/<files> and reused by later runs (--fresh rewrites).
import { spawn } from 'node:child_process'
import { createWriteStream, existsSync, readFileSync } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { generateSampleLibrary, type SampleClassSpec } from '../../src/demo/transfer-sample/index.ts'
import { formatBytes, formatDuration } from '../../src/shared/units.ts'
import { startNginx } from '../../support/services.ts'

const repo = fileURLToPath(new URL('../../', import.meta.url))
const { values: flags } = parseArgs({
  options: {
    files: { type: 'string', default: '100000,500000' },
    cache: { type: 'string', default: path.join(os.tmpdir(), 'colony-bench-memory') },
    fresh: { type: 'boolean', default: false },
    'library-only': { type: 'boolean', default: false },
    args: { type: 'string', default: '' },
    'node-options': { type: 'string', default: '' },
    stderr: { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
})
if (flags.help) {
  process.stdout.write(`Usage: node bench/transfer/memory.ts [--files 100000,500000] [--cache DIR] [--fresh] [--library-only (write the libraries, run nothing)] [--args="--concurrency 128"]
  [--node-options="--cpu-prof" (for colony's process)] [--stderr FILE (colony's stderr, whole, and its stdout lines that are not events)] [--out results.json]\n`)
  process.exit(0)
}

// 4 variants × 50 segments + 4 media playlists + 1 master = 205 files per class; segments 105–390 B.
const LADDER = [150, 200, 250, 300].map((b, i) => ({ name: `v${i}`, bandwidth: 100_000 * (i + 1), segmentBytes: b }))
const PER_CLASS = LADDER.length * 51 + 1

/** Writes (or finds) the library of about `files` files; returns its origin dir and catalog entries (paths). */
async function library(files: number): Promise<{ root: string; entries: Array<{ id: string; path: string; status: string }>; files: number }> {
  const dir = path.join(flags.cache, String(files))
  const index = path.join(dir, 'library.json')
  if (!flags.fresh && existsSync(index)) return { root: path.join(dir, 'origin'), ...JSON.parse(await readFile(index, 'utf8')) as { entries: Array<{ id: string; path: string; status: string }>; files: number } }
  await rm(dir, { recursive: true, force: true })
  const classes: SampleClassSpec[] = Array.from({ length: Math.max(1, Math.round(files / PER_CLASS)) }, (_, i) => ({ id: `c${String(i).padStart(6, '0')}`, variants: LADDER, segments: 50 }))
  const t0 = performance.now()
  // Built and written in chunks of classes, so the bench itself stays small at 2M files.
  let written = 0
  const entries: Array<{ id: string; path: string; status: string }> = []
  for (let i = 0; i < classes.length; i += 200) {
    const lib = generateSampleLibrary({ seed: 7 + i, classes: classes.slice(i, i + 200), nonTransferable: false, prefix: 'vod' })
    written += (await lib.writeTo(path.join(dir, 'origin'), { concurrency: 32 })).files
    for (const e of lib.catalog('')) entries.push({ id: e.id, path: e.url, status: e.status })
    process.stderr.write(`\r  library ${files}: ${written} files written`)
  }
  process.stderr.write(` in ${formatDuration(performance.now() - t0)}\n`)
  await writeFile(index, JSON.stringify({ entries, files: written }))
  return { root: path.join(dir, 'origin'), entries, files: written }
}

/** A number (kB) from /proc/<pid>/status, or undefined once the process is gone. */
function procStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) : undefined
  } catch { return undefined }
}

/** utime + stime of a live process, every thread, in seconds. */
function cpuS(pid: number): number | undefined {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
    return (Number(f[11]) + Number(f[12])) / 100
  } catch { return undefined }
}

type Result = {
  files: number; code: number | null; wallMs: number; cpuS: number; peakRssKb: number; verified: number; copied: number
  phases: Array<{ phase: string; t: number; rssKb: number }>
  /** From the first 'playlist-parsed' event to 'first-copy' (a copier was handed a file) and to the first 'copied'. */
  firstPlaylistToCopyMs?: number; firstPlaylistToCopiedMs?: number
  /** The first file was copied before the last class's crawl ended. */
  crawlCopyOverlap: boolean
}

// Ctrl-C or a kill stops what a run started: colony, nginx, the run's directory.
const work = path.join(os.tmpdir(), `colony-bench-memory-run-${process.pid}`)
let stopRun: (() => Promise<void>) | undefined
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => { void (stopRun?.() ?? Promise.resolve()).finally(() => process.exit(130)) })

async function measure(files: number, origin: string, entries: Array<{ id: string; path: string; status: string }>): Promise<Result> {
  const nginx = await startNginx({ root: origin, workers: 2 })
  await rm(work, { recursive: true, force: true })
  await mkdir(work, { recursive: true })
  try {
    const catalog = path.join(work, 'catalog.json')
    await writeFile(catalog, JSON.stringify(entries.map((e) => ({ id: e.id, master: `${nginx.url}${e.path}`, status: e.status }))))
    const args = [path.join(repo, 'bin/colony.js'), 'transfer', '--catalog', catalog, '--to', path.join(work, 'dst'), '--state', path.join(work, 'state'), '--json', ...flags.args.split(' ').filter(Boolean)]
    const t0 = performance.now()
    const child = spawn(process.execPath, [...flags['node-options'].split(' ').filter(Boolean), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    const log = flags.stderr ? createWriteStream(flags.stderr) : undefined
    if (log) child.stderr.pipe(log)
    const pid = child.pid as number
    stopRun = async () => { child.kill('SIGKILL'); await nginx.stop(); await rm(work, { recursive: true, force: true }) }
    let peak = 0
    let lastCpu = 0
    const sample = (): void => {
      const hwm = procStatusKb(pid, 'VmHWM')
      if (hwm !== undefined) peak = Math.max(peak, hwm)
      lastCpu = cpuS(pid) ?? lastCpu
    }
    const timer = setInterval(sample, 200)
    const res: Result = { files, code: null, wallMs: 0, cpuS: 0, peakRssKb: 0, verified: 0, copied: 0, phases: [], crawlCopyOverlap: false }
    let firstPlaylist: number | undefined
    let firstCopy: number | undefined
    let firstCopied: number | undefined
    let lastCrawlEnd = 0
    let partial = ''
    let stderr = ''
    child.stderr.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-4000) })
    child.stdout.on('data', (b: Buffer) => {
      const lines = (partial + b.toString()).split('\n')
      partial = lines.pop() ?? ''
      for (const l of lines) {
        // Not an event: what V8 prints to stdout (--node-options="--trace-gc"; it may land inside an event's line,
        // which is then lost), kept with --stderr.
        let e: { type: string; t: number; phase?: string; report?: { totals: { verified: number } } }
        try { e = JSON.parse(l) as typeof e } catch { log?.write(`${l}\n`); continue }
        if (e.type === 'copied') { res.copied++; firstCopied ??= e.t }
        else if (e.type === 'first-copy') firstCopy = e.t
        else if (e.type === 'playlist-parsed') firstPlaylist ??= e.t
        else if (e.type === 'discovered' || e.type === 'class-skipped') lastCrawlEnd = e.t
        else if (e.type === 'phase' && e.phase) res.phases.push({ phase: e.phase, t: e.t, rssKb: procStatusKb(pid, 'VmRSS') ?? 0 })
        else if (e.type === 'done') { sample(); res.verified = e.report?.totals.verified ?? 0; res.phases.push({ phase: 'done', t: e.t, rssKb: procStatusKb(pid, 'VmRSS') ?? 0 }) }
      }
    })
    res.code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    clearInterval(timer)
    res.wallMs = performance.now() - t0
    res.cpuS = lastCpu
    res.peakRssKb = peak
    if (firstPlaylist !== undefined && firstCopy !== undefined) res.firstPlaylistToCopyMs = firstCopy - firstPlaylist
    if (firstPlaylist !== undefined && firstCopied !== undefined) res.firstPlaylistToCopiedMs = firstCopied - firstPlaylist
    res.crawlCopyOverlap = firstCopied !== undefined && firstCopied < lastCrawlEnd
    if (res.code !== 0) process.stderr.write(`  colony exited ${res.code}: ${stderr}\n`)
    return res
  } finally {
    stopRun = undefined
    await nginx.stop()
    await rm(work, { recursive: true, force: true })
  }
}

const results: Result[] = []
for (const n of flags.files.split(',').map(Number)) {
  const lib = await library(n)
  if (flags['library-only']) continue
  process.stderr.write(`- colony transfer, ${lib.files} files (${lib.entries.length} classes)\n`)
  const r = await measure(lib.files, lib.root, lib.entries)
  results.push(r)
  process.stdout.write(`${lib.files} files: peak RSS ${formatBytes(r.peakRssKb * 1024)} · ${r.verified} verified · wall ${formatDuration(r.wallMs)} · CPU ${r.cpuS.toFixed(1)} s · exit ${r.code}` +
    ` · first playlist parsed → first copy started ${r.firstPlaylistToCopyMs ?? 'n/a'} ms, copied ${r.firstPlaylistToCopiedMs ?? 'n/a'} ms · crawl/copy overlap ${r.crawlCopyOverlap ? 'yes' : 'no'}\n` +
    `  RSS at phases: ${r.phases.map((p) => `${p.phase}@${(p.t / 1000).toFixed(1)}s ${formatBytes(p.rssKb * 1024)}`).join(' · ')}\n`)
}
process.stdout.write(`${os.cpus().length} CPUs, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}\n`)
if (flags.out) await writeFile(flags.out, JSON.stringify(results, null, 2))
