// colony transfer vs rclone per library shape, on a far origin (nginx + echo module: a delay before every answer and
// a rate limit per connection, bench/transfer/far-origin.conf) or a near one (plain nginx on loopback):
//   node bench/transfer/run.ts --far --shape all --colony-sweep      # the table of docs/benchmarks/transfer.md
//   node bench/transfer/run.ts --shape mid                             # near origin, one shape
// Per shape: rclone at its defaults and at --transfers 64/256/1024 (the fastest is "rclone best"); with
// --colony-sweep colony at --concurrency 64/256/1024; then at least 3 ALTERNATING pairs (colony at its defaults,
// rclone best, and with --colony-sweep colony at its fastest --concurrency of the sweep, whose median in the pairs
// is "own best"). Every step runs under /usr/bin/time: its CPU-seconds are user+sys of the whole process tree.
// --baseline <other checkout>/bin/colony.js adds that checkout's defaults to every pair (in alternating order), for an
// A/B of the defaults in the same run.
import { existsSync } from 'node:fs'
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { formatBytes } from '../../src/shared/units.ts'
import { startNginx, type Service } from '../../support/services.ts'
import { buildShapeLibrary, LIBRARY_SHAPES, type LibraryShape } from './library.ts'
import { median, timed, type Timed } from './timed.ts'

const repo = fileURLToPath(new URL('../../', import.meta.url))
const ECHO_MODULE = '/usr/lib/nginx/modules/ngx_http_echo_module.so'

const { values: flags } = parseArgs({
  args: process.argv.slice(2),
  options: {
    far: { type: 'boolean', default: false },
    shape: { type: 'string', default: 'all' },
    pairs: { type: 'string', default: '3' },
    'colony-sweep': { type: 'boolean', default: false },
    sweep: { type: 'string', default: '64,256,1024' },
    'tiny-files': { type: 'string', default: '6000' },
    'mid-files': { type: 'string', default: '2000' },
    'large-files': { type: 'string', default: '150' },
    delay: { type: 'string', default: '0.05' },
    rate: { type: 'string', default: '10m' },
    'step-timeout': { type: 'string', default: '600' },
    colony: { type: 'string', default: path.join(repo, 'bin/colony.js') },
    baseline: { type: 'string' },
    keep: { type: 'boolean', default: false },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
})
if (flags.help) {
  process.stdout.write(`Usage: node bench/transfer/run.ts [--far] --shape tiny|mid|large|all [--colony-sweep] [--pairs 3]
  [--sweep 64,256,1024 (rclone --transfers, and colony --concurrency with --colony-sweep)]
  [--tiny-files 6000] [--mid-files 2000] [--large-files 150] [--delay 0.05 (s, --far)] [--rate 10m (per connection, --far)]
  [--step-timeout 600] [--colony bin/colony.js (another checkout's, for an A/B)]
  [--baseline <checkout>/bin/colony.js (its defaults join every pair)] [--keep] [--out results.json]\n`)
  process.exit(0)
}

const shapes: LibraryShape[] = flags.shape === 'all' ? [...LIBRARY_SHAPES] : flags.shape.split(',').map((s) => {
  if (!(LIBRARY_SHAPES as readonly string[]).includes(s)) throw new Error(`--shape: ${s} is not one of tiny, mid, large, all`)
  return s as LibraryShape
})
const sweep = flags.sweep.split(',').map(Number)
const pairs = Math.max(1, Number(flags.pairs))
const work = path.join(os.tmpdir(), `colony-bench-shapes-${process.pid}`)
// Destinations go to tmpfs when there is one: each is removed after its step, and on ext4 without a journal a file
// created minutes after a mass delete pays a scan past the recently deleted inodes (see docs/benchmarks/transfer.md).
const dstRoot = existsSync('/dev/shm') ? path.join('/dev/shm', `colony-bench-shapes-${process.pid}`) : work
const log = (line: string): void => { process.stderr.write(`${line}\n`) }

type Run = { tool: 'colony' | 'baseline' | 'rclone'; label: string; wallS: number; cpuS: number; rssMB: number; files: number; code: number | null; limit?: string }

const runTimed = (cmd: string, args: string[]): Promise<Timed> => timed(cmd, args, { cwd: work, timeoutMs: Number(flags['step-timeout']) * 1000, log })

async function countFiles(dir: string): Promise<number> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])
  return entries.filter((e) => e.isFile()).length
}

let step = 0
/** One copy of a shape's library by one tool; its destination is removed afterwards (disk space). */
async function copy(tool: Run['tool'], label: string, origin: string, shape: LibraryShape, extra: string[]): Promise<Run> {
  const dst = path.join(dstRoot, `dst-${step++}`)
  let r: Timed
  let limit: string | undefined
  if (tool !== 'rclone') {
    const report = path.join(work, `report-${step}.json`)
    r = await runTimed(process.execPath, [tool === 'baseline' ? flags.baseline as string : flags.colony, 'transfer', `${origin}/catalog-${shape}.json`, '--to', dst,
      '--state', path.join(work, `state-${step}`), '--report', report, ...extra])
    const c = (JSON.parse(await readFile(report, 'utf8').catch(() => '{}')) as { concurrency?: { mode: string; limit: number; lowest?: number; highest?: number } }).concurrency
    limit = c ? (c.mode === 'auto' ? `${c.limit} (${c.lowest}–${c.highest})` : String(c.limit)) : undefined
  } else {
    const conf = path.join(work, 'rclone.conf')
    await writeFile(conf, '')
    r = await runTimed('rclone', ['copy', ':http:', '--http-url', `${origin}/vod-${shape}/`, dst, '--config', conf, '--stats', '0', ...extra])
  }
  const files = await countFiles(dst)
  if (r.code !== 0) log(`  exit ${r.code}: ${r.stderr.slice(-1500)}`)
  await rm(dst, { recursive: true, force: true })
  const run: Run = { tool, label, wallS: r.wallS, cpuS: r.cpuS, rssMB: r.rssMB, files, code: r.code, ...(limit ? { limit } : {}) }
  log(`  ${tool} ${label}: ${run.wallS.toFixed(2)} s, ${run.cpuS.toFixed(2)} CPU-s, ${run.rssMB.toFixed(0)} MB, ${files} files${limit ? `, concurrency ${limit}` : ''} (load ${os.loadavg()[0]?.toFixed(1)})`)
  return run
}

type ShapeResult = { shape: LibraryShape; files: number; bytes: number; sizes: [number, number]; rcloneDefault: Run; rcloneSweep: Run[]; colonySweep: Run[]; pairs: Array<[Run, Run]>; baseline: Run[]; ownBest: Run[] }

/** The fastest run that succeeded. */
const fastest = (runs: Run[]): Run | undefined => runs.filter((r) => r.code === 0).sort((a, b) => a.wallS - b.wallS)[0]

async function benchShape(shape: LibraryShape, origin: string, files: number, bytes: number, sizes: [number, number]): Promise<ShapeResult> {
  log(`- ${shape}: ${files} files, ${formatBytes(bytes)}`)
  const rcloneSweep: Run[] = []
  for (const n of sweep) rcloneSweep.push(await copy('rclone', `--transfers ${n}`, origin, shape, ['--transfers', String(n), '--checkers', String(n)]))
  const best = fastest(rcloneSweep) ?? rcloneSweep[0] as Run
  const rcloneDefault = await copy('rclone', 'defaults', origin, shape, [])
  const colonySweep: Run[] = []
  if (flags['colony-sweep']) for (const n of sweep) colonySweep.push(await copy('colony', `--concurrency ${n}`, origin, shape, ['--concurrency', String(n)]))
  const pairRuns: Array<[Run, Run]> = []
  const baseline: Run[] = []
  const bestArgs = best.label.split(' ')
  // colony's own best --concurrency from the sweep joins every pair, so "defaults / own best" compares two medians of
  // the same rotation (a minimum over single runs would favour a lucky run).
  const own = fastest(colonySweep)
  const ownBest: Run[] = []
  for (let i = 0; i < pairs; i++) {
    const b = flags.baseline && i % 2 === 1 ? await copy('baseline', 'defaults', origin, shape, []) : undefined
    const c = await copy('colony', 'defaults', origin, shape, [])
    const b2 = flags.baseline && i % 2 === 0 ? await copy('baseline', 'defaults', origin, shape, []) : undefined
    const r = await copy('rclone', best.label, origin, shape, [...bestArgs, '--checkers', bestArgs[1] as string])
    if (own) ownBest.push(await copy('colony', own.label, origin, shape, own.label.split(' ')))
    pairRuns.push([c, r])
    const base = b ?? b2
    if (base) baseline.push(base)
  }
  return { shape, files, bytes, sizes, rcloneDefault, rcloneSweep, colonySweep, pairs: pairRuns, baseline, ownBest }
}

const s = (x: number): string => `${x.toFixed(2)} s`
/** colony's own best: the median of its runs in the pairs at the sweep's fastest --concurrency (no sweep: none). */
const ownBestWall = (r: ShapeResult): number => (r.ownBest.length > 0 ? median(r.ownBest.map((x) => x.wallS)) : Number.NaN)
const mark = (r: Run, files: number): string => (r.code !== 0 || r.files < files ? ` ⚠ exit ${r.code}, ${r.files}/${files} files` : '')

function tables(results: ShapeResult[]): string {
  const origin = flags.far ? `far origin (nginx: ${Number(flags.delay) * 1000} ms before every answer, limit_rate ${flags.rate} per connection)` : 'near origin (nginx on loopback)'
  const out = [`${origin}; ${os.cpus().length} CPUs shared with other work, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} at the end`, '',
    '| shape | library | colony defaults: wall / CPU-s / peak RSS (median) | rclone best: wall / CPU-s / peak RSS (median) | wall ratio per pair | median wall ratio | median CPU ratio |',
    '|---|---|---|---|---|---|---|']
  for (const r of results) {
    const c = r.pairs.map((p) => p[0])
    const k = r.pairs.map((p) => p[1])
    const ratios = r.pairs.map(([a, b]) => a.wallS / b.wallS)
    const cpuRatios = r.pairs.map(([a, b]) => a.cpuS / b.cpuS)
    const warn = [...c, ...k].map((x) => mark(x, r.files)).filter(Boolean).join('')
    out.push(`| ${r.shape} | ${r.files} files, ${formatBytes(r.bytes)} (${formatBytes(r.sizes[0])}–${formatBytes(r.sizes[1])}) | ${s(median(c.map((x) => x.wallS)))} / ${median(c.map((x) => x.cpuS)).toFixed(2)} / ${median(c.map((x) => x.rssMB)).toFixed(0)} MB | \`${k[0]?.label}\`: ${s(median(k.map((x) => x.wallS)))} / ${median(k.map((x) => x.cpuS)).toFixed(2)} / ${median(k.map((x) => x.rssMB)).toFixed(0)} MB | ${ratios.map((x) => x.toFixed(2)).join(', ')} | **${median(ratios).toFixed(2)}** | ${median(cpuRatios).toFixed(2)}${warn} |`)
  }
  out.push('', `| shape | colony defaults (median) | ${sweep.map((n) => `colony ${n}`).join(' | ')} | defaults / own best (its median in the pairs) | concurrency at the end (range) | rclone defaults | ${sweep.map((n) => `rclone ${n}`).join(' | ')} |`,
    `|---|---|${sweep.map(() => '---|').join('')}---|---|---|${sweep.map(() => '---|').join('')}`)
  for (const r of results) {
    const auto = median(r.pairs.map((p) => p[0].wallS))
    const own = ownBestWall(r)
    const cell = (x: Run | undefined): string => (x ? `${s(x.wallS)}, ${x.cpuS.toFixed(1)} CPU-s${mark(x, r.files)}` : 'n/a')
    out.push(`| ${r.shape} | ${s(auto)} | ${sweep.map((_, i) => cell(r.colonySweep[i])).join(' | ')} | ${Number.isFinite(own) ? `**${(auto / own).toFixed(2)}**` : 'n/a'} | ${r.pairs.map((p) => p[0].limit ?? '?').join('; ')} | ${cell(r.rcloneDefault)} | ${sweep.map((_, i) => cell(r.rcloneSweep[i])).join(' | ')} |`)
  }
  if (flags.baseline) {
    out.push('', `A/B of the defaults against ${flags.baseline} (its run joins every pair, in alternating order):`, '',
      '| shape | defaults (median) | baseline (median) | defaults / baseline per pair | defaults / own best | baseline / own best | defaults / rclone best | baseline / rclone best |',
      '|---|---|---|---|---|---|---|---|')
    for (const r of results) {
      const own = ownBestWall(r)
      const auto = median(r.pairs.map((p) => p[0].wallS))
      const base = median(r.baseline.map((x) => x.wallS))
      const vsRclone = (xs: Run[]): string => median(xs.map((x, i) => x.wallS / (r.pairs[i] as [Run, Run])[1].wallS)).toFixed(2)
      const ownCell = (x: number): string => (Number.isFinite(own) ? (x / own).toFixed(2) : 'n/a')
      out.push(`| ${r.shape} | ${s(auto)} | ${s(base)} | ${r.pairs.map((p, i) => (p[0].wallS / (r.baseline[i] as Run).wallS).toFixed(2)).join(', ')} | **${ownCell(auto)}** | ${ownCell(base)} | **${vsRclone(r.pairs.map((p) => p[0]))}** | ${vsRclone(r.baseline)} |`)
    }
  }
  return out.join('\n') + '\n'
}

export async function runShapes(): Promise<void> {
  await mkdir(work, { recursive: true })
  const stop: Array<() => Promise<void>> = []
  const cleanup = async (): Promise<void> => { for (const f of stop.reverse()) await f().catch(() => undefined); await rm(dstRoot, { recursive: true, force: true }); if (!flags.keep) await rm(work, { recursive: true, force: true }) }
  process.once('SIGINT', () => { void cleanup().finally(() => process.exit(130)) })
  try {
    const originDir = path.join(work, 'origin')
    const libs = shapes.map((shape) => ({ shape, lib: buildShapeLibrary(shape, Number(flags[`${shape}-files`]), `vod-${shape}`) }))
    for (const { lib } of libs) await lib.writeTo(originDir, { concurrency: 32 })
    const server = flags.far
      ? (await readFile(path.join(repo, 'bench/transfer/far-origin.conf'), 'utf8')).replaceAll('{{DELAY}}', flags.delay).replaceAll('{{RATE}}', flags.rate)
      : 'location / { autoindex on; }'
    const nginx: Service = await startNginx({ root: originDir, workers: 2, server, ...(flags.far ? { modules: [ECHO_MODULE] } : {}) })
    stop.push(nginx.stop)
    const results: ShapeResult[] = []
    for (const { shape, lib } of libs) {
      await writeFile(path.join(originDir, `catalog-${shape}.json`), lib.catalogJson(nginx.url))
      // A loop, not Math.min(...sizes): a spread of 200k arguments overflows the stack.
      let min = Infinity
      let max = 0
      for (const f of lib.files.values()) if (f.kind === 'segment') { min = Math.min(min, f.size); max = Math.max(max, f.size) }
      results.push(await benchShape(shape, nginx.url, lib.files.size, lib.totalBytes, [min, max]))
    }
    const text = tables(results)
    process.stdout.write(`\n${text}`)
    if (flags.out) await writeFile(flags.out, JSON.stringify({ far: flags.far, delay: flags.delay, rate: flags.rate, results, load: os.loadavg() }, null, 2))
  } finally {
    await cleanup()
  }
}
