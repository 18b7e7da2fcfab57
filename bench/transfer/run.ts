// colony transfer vs rclone, and vs the origin's raw GET capacity, in ONE run on the same library and origin.
//   node bench/transfer/run.ts                 # ~20k files / ~1 GB
//   node bench/transfer/run.ts --files 2000    # smoke run
//   node bench/transfer/run.ts --far --shape all --colony-sweep   # per library shape, far origin (shapes.ts)
// Everything it starts (nginx, s3rver, children) is stopped and its work dir removed, also on Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { ListObjectsCommand, S3Client } from '@aws-sdk/client-s3'
import { formatBytes, formatDuration, parseSize } from '../../src/shared/units.ts'
import { startNginx, type Service } from '../../support/services.ts'
import { buildBenchLibrary } from './library.ts'
import { isMainThreadProfile, summariseProfiles } from './profile.ts'

const repo = fileURLToPath(new URL('../../', import.meta.url))

// The per-shape bench (far or near origin, alternating pairs) has its own flags: see shapes.ts.
if (process.argv.slice(2).some((a) => a === '--far' || a === '--shape' || a.startsWith('--shape='))) {
  const { runShapes } = await import('./shapes.ts')
  await runShapes()
  process.exit(process.exitCode ?? 0)
}

const { values: flags } = parseArgs({
  options: {
    files: { type: 'string', default: '20000' },
    bytes: { type: 'string' },
    'large-files': { type: 'string' },
    'wrk-seconds': { type: 'string', default: '8' },
    'wrk-connections': { type: 'string', default: '32' },
    concurrency: { type: 'string' },
    'skip-s3': { type: 'boolean', default: false },
    'skip-rclone': { type: 'boolean', default: false },
    'skip-dir': { type: 'boolean', default: false },
    'skip-large': { type: 'boolean', default: false },
    's3rver-dir': { type: 'string' },
    rounds: { type: 'string', default: '2' },
    profile: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    'step-timeout': { type: 'string', default: '900' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
})
if (flags.help) {
  process.stdout.write(`Usage: node bench/transfer/run.ts [--files 20000] [--bytes 1GB] [--large-files N] [--wrk-seconds 8]
  [--wrk-connections 32] [--concurrency N (colony)] [--rounds 2 (directory copies, in ABBA order)] [--skip-s3] [--skip-rclone]
  [--skip-dir] [--skip-large] (the last two, and wrk, only for iterating on one step)
  [--s3rver-dir DIR (where s3rver stores objects; default a tmpfs dir under /dev/shm when there is one)]
  [--profile] [--keep] [--out results.json]
       node bench/transfer/run.ts [--far] --shape tiny|mid|large|all [--colony-sweep] … (--far --help for the rest)\n`)
  process.exit(0)
}

const files = Number(flags.files)
const bytes = flags.bytes ? parseSize(flags.bytes) : files * 50_000
const largeFiles = flags['large-files'] ? Number(flags['large-files']) : Math.round(files / 100)
const stepTimeoutMs = Number(flags['step-timeout']) * 1000
const work = path.join(os.tmpdir(), `colony-bench-transfer-${process.pid}`)
const stoppers: Array<() => Promise<void>> = []
const children = new Set<ChildProcess>()

type StepResult = {
  name: string; wallMs: number; code: number | null; files?: number; bytes?: number; note?: string
  /** colony only, from its NDJSON events: ms from the start of crawling to the start of verification, and bytes copied. */
  copyPhaseMs?: number; copiedBytes?: number; verifyMs?: number; retries?: number
  /**
   * colony only: CPU seconds per phase (start → crawl → copy → verify → report → done → exit) of colony's process
   * (all threads) and of s3rver's, read from /proc at each of colony's phase events.
   */
  phaseCpu?: Array<{ phase: string; wallMs: number; colonyCpuS: number; s3rverCpuS?: number }>
  /** s3rver's CPU over the whole step (both tools), when it ran. */
  s3rverCpuS?: number; s3rverSysS?: number
}
const results: StepResult[] = []
let s3Pid: number | undefined
const log = (line: string): void => { process.stderr.write(`${line}\n`) }

/** Runs a child to completion (or kills it at the step timeout); returns wall time and output tails. */
function runStep(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, onLine?: (line: string, pid: number | undefined) => void): Promise<{ wallMs: number; code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now()
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env }
    // rclone 1.60's S3 client cannot combine AWS_CA_BUNDLE with its own transport; loopback HTTP needs no CA anyway.
    if (cmd === 'rclone') delete childEnv.AWS_CA_BUNDLE
    const child = spawn(cmd, args, { cwd: work, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
    children.add(child)
    let stdout = ''
    let stderr = ''
    let partial = ''
    child.stdout.on('data', (b: Buffer) => {
      const text = b.toString()
      // Steps read line by line keep no copy (colony's NDJSON is megabytes); others keep a tail.
      if (!onLine) { stdout = (stdout + text).slice(-200_000); return }
      const lines = (partial + text).split('\n')
      partial = lines.pop() ?? ''
      for (const l of lines) onLine(l, child.pid)
    })
    child.stderr.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-20_000) })
    const timer = setTimeout(() => { log(`  ${cmd}: step timeout, killing`); child.kill('SIGKILL') }, stepTimeoutMs)
    child.on('close', (code) => {
      clearTimeout(timer)
      if (onLine) onLine('', undefined)
      children.delete(child)
      resolve({ wallMs: performance.now() - t0, code, stdout, stderr })
    })
  })
}

/** utime + stime (or only stime) of a live process, all its threads, in seconds; undefined once it is gone. */
function processCpuS(pid: number, only?: 'system'): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
    return ((only ? 0 : Number(fields[11])) + Number(fields[12])) / 100
  } catch { return undefined }
}

/** s3rver in its own process (see s3rver-process.ts); its pid lets the bench read its CPU per phase. */
async function startS3rverProcess(dir: string): Promise<{ url: string; pid: number; stop: () => Promise<void> }> {
  await mkdir(dir, { recursive: true })
  const child = spawn(process.execPath, ['--openssl-legacy-provider', path.join(repo, 'bench/transfer/s3rver-process.ts'), dir, 'bench'], { stdio: ['pipe', 'pipe', 'inherit'] })
  children.add(child)
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); const m = /S3RVER_READY (\S+)/.exec(out); if (m?.[1]) resolve(m[1]) })
    child.once('exit', (code) => reject(new Error(`s3rver exited (${code}) before it was ready`)))
  })
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  return {
    url, pid: child.pid as number,
    stop: async () => { child.kill('SIGTERM'); await exited; children.delete(child); await rm(dir, { recursive: true, force: true }) },
  }
}

/**
 * The ceiling for any copier on the large segments: two curl processes (C, libcurl, `--parallel`), each fetching
 * half of the files 8 at a time into a directory, the way colony and rclone do. wrk reads and discards the bodies;
 * this stores them, so it shows how much of wrk's rate is reachable at all on this machine.
 */
async function measureCurlCeiling(origin: string, paths: string[], bytes: number): Promise<{ rate: number; ms: number; code: number | null } | undefined> {
  const which = await runStep('sh', ['-c', 'command -v curl'])
  if (which.code !== 0) { log('- curl not found: no copier ceiling'); return undefined }
  log('- ceiling: two curl processes (--parallel-max 8 each) on the large segments')
  const dest = path.join(work, 'dst-curl')
  await mkdir(dest, { recursive: true })
  const half = Math.ceil(paths.length / 2)
  const configs = [paths.slice(0, half), paths.slice(half)].map((part, i) => {
    const file = path.join(work, `curl-${i}.cfg`)
    // curl's config syntax: one `url` / `output` pair per transfer (names are generated, so no quoting issues).
    const text = part.map((p, j) => `url = "${origin}${p}"\noutput = "${dest}/${i}-${j}"\n`).join('')
    return { file, text }
  })
  for (const c of configs) await writeFile(c.file, c.text)
  const script = configs.map((c) => `curl -sS --no-progress-meter --parallel --parallel-max 8 -K '${c.file}' &`).join(' ') + ' wait'
  const r = await runStep('sh', ['-c', script])
  const got = await walk(dest)
  if (got.bytes !== bytes) log(`  curl stored ${got.bytes} of ${bytes} bytes`)
  return { rate: got.bytes / (r.wallMs / 1000), ms: r.wallMs, code: r.code }
}

async function walk(dir: string): Promise<{ files: number; bytes: number }> {
  let n = 0
  let b = 0
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])
  for (const e of entries) {
    if (!e.isFile()) continue
    n++
    b += (await stat(path.join(e.parentPath, e.name))).size
  }
  return { files: n, bytes: b }
}

async function countS3(endpoint: string, bucket: string, prefix: string): Promise<{ files: number; bytes: number }> {
  const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } })
  let n = 0
  let b = 0
  let marker: string | undefined
  // ListObjects v1: s3rver 3.7 answers InternalError to a truncated ListObjectsV2 (over 1000 keys).
  do {
    const page = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: prefix, Marker: marker }))
    for (const o of page.Contents ?? []) { n++; b += o.Size ?? 0 }
    marker = page.IsTruncated ? page.Contents?.at(-1)?.Key : undefined
  } while (marker)
  s3.destroy()
  return { files: n, bytes: b }
}

async function cleanup(): Promise<void> {
  for (const c of children) c.kill('SIGKILL')
  for (const stop of stoppers.reverse()) await stop().catch(() => undefined)
  if (!flags.keep) await rm(work, { recursive: true, force: true })
}

process.once('SIGINT', () => { void cleanup().finally(() => process.exit(130)) })
process.once('SIGTERM', () => { void cleanup().finally(() => process.exit(143)) })

async function colonyStep(name: string, catalog: string, to: string, env: NodeJS.ProcessEnv = {}): Promise<StepResult> {
  const state = path.join(work, `state-${name.replace(/\W+/g, '-')}`)
  const profDir = path.join(work, `prof-${name.replace(/\W+/g, '-')}`)
  const nodeArgs = flags.profile ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []
  const args = [...nodeArgs, path.join(repo, 'bin/colony.js'), 'transfer', catalog, '--to', to, '--state', state, '--report', path.join(work, `${name.replace(/\W+/g, '-')}.report.json`)]
  if (flags.concurrency) args.push('--concurrency', flags.concurrency)
  log(`- ${name}`)
  const t: Record<string, number> = {}
  let copiedBytes = 0
  let retries = 0
  // CPU at each phase boundary, from /proc: colony's (its last reading is taken at 'done', just before it exits) and
  // s3rver's when it runs.
  const s3Cpu = (): number | undefined => (s3Pid && env.COLONY_S3_ENDPOINT ? processCpuS(s3Pid) : undefined)
  const marks: Array<{ phase: string; at: number; colony: number; s3: number | undefined }> = [{ phase: 'start', at: performance.now(), colony: 0, s3: s3Cpu() }]
  let lastColonyCpu = 0
  const mark = (phase: string, pid: number | undefined): void => {
    const colony = pid ? processCpuS(pid) : undefined
    if (colony !== undefined) lastColonyCpu = colony
    marks.push({ phase, at: performance.now(), colony: colony ?? lastColonyCpu, s3: s3Cpu() })
  }
  const r = await runStep(process.execPath, [...args, '--json'], env, (line, pid) => {
    if (pid === undefined) { mark('exit', undefined); return }
    if (!line.startsWith('{')) return
    const e = JSON.parse(line) as { type: string; t: number; phase?: string; bytes?: number; skipped?: boolean }
    if (e.type === 'phase' && e.phase) { t[e.phase] ??= e.t; mark(e.phase, pid) }
    else if (e.type === 'done') mark('done', pid)
    else if (e.type === 'copied' && !e.skipped) copiedBytes += e.bytes ?? 0
    else if (e.type === 'retry') retries++
    if (e.type === 'done') t.done = e.t
  })
  if (r.code !== 0) log(`  exit ${r.code}: ${r.stderr.slice(-1500)}`)
  const res: StepResult = { name, wallMs: r.wallMs, code: r.code, copiedBytes, retries }
  if (t.crawl !== undefined && t.verify !== undefined) res.copyPhaseMs = t.verify - t.crawl
  if (t.verify !== undefined && t.report !== undefined) res.verifyMs = t.report - t.verify
  // 'done' has no CPU of its own: it is the reading nearest colony's exit; the exit row is what follows it.
  res.phaseCpu = marks.slice(0, -1).map((m, i) => {
    const n = marks[i + 1] as typeof m
    return { phase: m.phase, wallMs: n.at - m.at, colonyCpuS: n.colony - m.colony, ...(m.s3 !== undefined && n.s3 !== undefined ? { s3rverCpuS: n.s3 - m.s3 } : {}) }
  })
  if (flags.profile) {
    const fmt = (p: Awaited<ReturnType<typeof summariseProfiles>>): string => `${p.totalMs} ms sampled; ` + p.frames.slice(0, 10).map((f) => `${f.frame} ${(f.share * 100).toFixed(1)}%`).join(' | ')
    const main = await summariseProfiles(profDir, 10, isMainThreadProfile).catch(() => undefined)
    const workers = await summariseProfiles(profDir, 10, (f) => !isMainThreadProfile(f)).catch(() => undefined)
    res.note = [main ? `main thread: ${fmt(main)}` : '', workers?.totalMs ? `copy workers: ${fmt(workers)}` : ''].filter(Boolean).join('\n    ')
  }
  return res
}

async function main(): Promise<void> {
  await mkdir(work, { recursive: true })
  log(`work dir ${work}`)
  const t0 = performance.now()
  const { library, largeClasses } = buildBenchLibrary({ files, bytes, largeFiles })
  const originDir = path.join(work, 'origin')
  const written = await library.writeTo(originDir, { concurrency: 32 })
  log(`library: ${written.files} files, ${formatBytes(written.bytes)} written in ${formatDuration(performance.now() - t0)}`)

  const nginx: Service = await startNginx({ root: originDir, workers: 2, server: 'location / { autoindex on; }' })
  stoppers.push(nginx.stop)
  await writeFile(path.join(originDir, 'catalog.json'), library.catalogJson(nginx.url))
  const large = library.catalog(nginx.url).filter((e) => largeClasses.includes(e.id))
  await writeFile(path.join(originDir, 'catalog-large.json'), JSON.stringify(large))
  const largePaths = [...library.files.values()].filter((f) => largeClasses.includes(f.classId) && f.kind === 'segment')
  const largeBytes = largePaths.reduce((a, f) => a + f.size, 0)
  await writeFile(path.join(work, 'wrk-paths.txt'), largePaths.map((f) => `/${f.path}`).join('\n') + '\n')

  // 0. colony's fixed cost: starting the CLI (Node + type stripping + module graph) and exiting.
  const startup = await runStep(process.execPath, [path.join(repo, 'bin/colony.js'), 'transfer', '--help'])
  log(`colony startup (transfer --help): ${formatDuration(startup.wallMs)}`)

  // 1. The origin's raw capacity on large segments (measured again after the colony steps: the machine may be shared).
  const measureWrk = async (label: string): Promise<number> => {
    log(`- wrk on the large segments (${label})`)
    const wrk = await runStep('wrk', ['-t', '2', '-c', flags['wrk-connections'], '-d', `${flags['wrk-seconds']}s`, '-s', path.join(repo, 'bench/transfer/wrk-paths.lua'), nginx.url],
      { WRK_PATHS: path.join(work, 'wrk-paths.txt') })
    const json = /WRK_JSON (\{.*\})/.exec(wrk.stdout)?.[1]
    const stats = json ? JSON.parse(json) as { requests: number; bytes: number; duration_us: number; errors: number } : undefined
    const rate = stats ? stats.bytes / (stats.duration_us / 1e6) : NaN
    log(`  wrk: ${stats?.requests ?? '?'} GETs, ${formatBytes(rate)}/s, errors ${stats?.errors ?? '?'}, load ${os.loadavg()[0]?.toFixed(1)}`)
    wrkRuns.push({ label, rate, requests: stats?.requests ?? 0, errors: stats?.errors ?? 0, load: os.loadavg()[0] ?? 0 })
    return rate
  }
  const wrkRuns: Array<{ label: string; rate: number; requests: number; errors: number; load: number }> = []
  if (!flags['skip-large']) await measureWrk('before the copies')

  // s3rver keeps three files per object. They go to tmpfs, so that neither tool's figure depends on the ext4 artefact
  // described in step 2 (whichever step creates its objects first after a mass delete pays it) or on the order.
  const s3Dir = path.join(flags['s3rver-dir'] ?? (existsSync('/dev/shm') ? '/dev/shm' : work), `colony-bench-s3rver-${process.pid}`)
  const s3 = flags['skip-s3'] ? undefined : await startS3rverProcess(s3Dir)
  if (s3) stoppers.push(s3.stop)
  s3Pid = s3?.pid
  const rcloneConf = path.join(work, 'rclone.conf')
  await writeFile(rcloneConf, '')
  const rcloneBase = [':http:', '--http-url', `${nginx.url}/vod/`, '--transfers', '64', '--checkers', '64', '--config', rcloneConf, '--stats', '0']
  const s3Env = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: s3?.url ?? '' }

  // 2. Copies of the whole library, to a directory and to s3rver. Destinations are only removed at the end: this
  // machine's ext4 has no journal, and there a file created within minutes of many deletions pays a scan past the
  // recently deleted inodes (~0.3 ms of kernel CPU per create), so deleting one step's 20k files would slow the next
  // step down. The directory copies run in ABBA order (rclone, colony, colony, rclone, …) and are averaged per tool.
  const rounds = Math.max(1, Number(flags.rounds))
  let dirStep = 0
  const rcloneDir = async (): Promise<StepResult> => {
    const dst = path.join(work, `dst-rclone-${dirStep++}`)
    log('- rclone → dir')
    const r = await runStep('rclone', ['copy', ...rcloneBase, dst])
    if (r.code !== 0) log(`  exit ${r.code}: ${r.stderr.slice(-1500)}`)
    return { name: 'rclone → dir', wallMs: r.wallMs, code: r.code, ...await walk(dst) }
  }
  const colonyDir = async (): Promise<StepResult> => {
    const dst = path.join(work, `dst-colony-${dirStep++}`)
    const cd = await colonyStep('colony → dir', `${nginx.url}/catalog.json`, dst)
    return { ...cd, ...await walk(dst) }
  }
  for (let round = 0; round < (flags['skip-dir'] ? 0 : rounds); round++) {
    const order = round % 2 === 0 ? [rcloneDir, colonyDir] : [colonyDir, rcloneDir]
    for (const step of order) {
      if (step === rcloneDir && flags['skip-rclone']) continue
      results.push(await step())
    }
  }
  if (s3) {
    if (!flags['skip-rclone']) {
      log('- rclone → s3rver')
      const cpu0 = processCpuS(s3.pid) ?? NaN
      const sys0 = processCpuS(s3.pid, 'system') ?? NaN
      const r = await runStep('rclone', ['copy', ...rcloneBase, ':s3:bench/rclone', '--s3-provider', 'Other', '--s3-endpoint', s3.url,
        '--s3-access-key-id', 'S3RVER', '--s3-secret-access-key', 'S3RVER', '--s3-region', 'us-east-1', '--s3-no-check-bucket'])
      if (r.code !== 0) log(`  exit ${r.code}: ${r.stderr.slice(-1500)}`)
      const s3rverCpuS = (processCpuS(s3.pid) ?? NaN) - cpu0
      const s3rverSysS = (processCpuS(s3.pid, 'system') ?? NaN) - sys0
      results.push({ name: 'rclone → s3rver', wallMs: r.wallMs, code: r.code, s3rverCpuS, s3rverSysS, ...await countS3(s3.url, 'bench', 'rclone/') })
    }
    const cpu0 = processCpuS(s3.pid) ?? NaN
    const sys0 = processCpuS(s3.pid, 'system') ?? NaN
    const cs = await colonyStep('colony → s3rver', `${nginx.url}/catalog.json`, 's3://bench/colony', { ...s3Env, COLONY_S3_ENDPOINT: s3.url })
    const s3rverCpuS = (processCpuS(s3.pid) ?? NaN) - cpu0
    const s3rverSysS = (processCpuS(s3.pid, 'system') ?? NaN) - sys0
    results.push({ ...cs, s3rverCpuS, s3rverSysS, ...await countS3(s3.url, 'bench', 'colony/') })
  }

  // 3. colony on the large segments only, against wrk's raw rate; rclone on the same files as a disk-writing reference.
  let cl: StepResult = { name: 'colony → dir (large segments only)', wallMs: NaN, code: 0 }
  let largeCopied = { files: 0, bytes: 0 }
  let baseline: { files: number; bytes: number; ms: number } | undefined
  let baselineRate = NaN
  let rawRate = NaN
  let ceiling: { rate: number; ms: number; code: number | null } | undefined
  if (!flags['skip-large']) {
    cl = await colonyStep('colony → dir (large segments only)', `${nginx.url}/catalog-large.json`, path.join(work, 'dst-large'))
    largeCopied = await walk(path.join(work, 'dst-large'))
    results.push({ ...cl, ...largeCopied })
    if (!flags['skip-rclone']) {
      log('- rclone → dir (large segments only)')
      const r = await runStep('rclone', ['copy', ...rcloneBase, '--include', '/l*/**', path.join(work, 'dst-rclone-large')])
      if (r.code !== 0) log(`  exit ${r.code}: ${r.stderr.slice(-1500)}`)
      results.push({ name: 'rclone → dir (large segments only)', wallMs: r.wallMs, code: r.code, ...await walk(path.join(work, 'dst-rclone-large')) })
    }
    log('- plain Node baseline (undici → writeFile, 16 in flight) on the large segments')
    const nb = await runStep(process.execPath, [path.join(repo, 'bench/transfer/node-baseline.ts'), nginx.url, path.join(work, 'wrk-paths.txt'), path.join(work, 'dst-baseline'), '16'])
    const nbJson = /BASELINE_JSON (\{.*\})/.exec(nb.stdout)?.[1]
    baseline = nbJson ? JSON.parse(nbJson) as { files: number; bytes: number; ms: number } : undefined
    baselineRate = baseline ? baseline.bytes / (baseline.ms / 1000) : NaN
    ceiling = await measureCurlCeiling(nginx.url, largePaths.map((f) => `/${f.path}`), largeBytes)
    rawRate = await measureWrk('after the copies')
  }

  // Report.
  const expected = { files: library.files.size, bytes: library.totalBytes }
  const lines = ['', `library: ${expected.files} files, ${formatBytes(expected.bytes)} (${largePaths.length} large segments, ${formatBytes(largeBytes)}); origin nginx; ${os.cpus().length} CPUs, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`, '']
  lines.push(`${'step'.padEnd(38)} ${'wall'.padStart(9)} ${'exit'.padStart(4)} ${'files'.padStart(7)} ${'bytes'.padStart(10)}  rate`)
  for (const r of results) {
    lines.push(`${r.name.padEnd(38)} ${`${(r.wallMs / 1000).toFixed(2)}s`.padStart(9)} ${String(r.code).padStart(4)} ${String(r.files ?? '').padStart(7)} ${formatBytes(r.bytes ?? NaN).padStart(10)}  ${formatBytes((r.bytes ?? 0) / (r.wallMs / 1000))}/s`)
  }
  // The mean over the rounds when a step ran several times (the directory copies).
  const wall = (n: string): number | undefined => {
    const w = results.filter((r) => r.name === n).map((r) => r.wallMs)
    return w.length ? w.reduce((a, b) => a + b, 0) / w.length : undefined
  }
  const ratio = (a?: number, b?: number): string => (a && b ? (a / b).toFixed(2) : 'n/a')
  const largeRate = largeCopied.bytes / ((cl.wallMs) / 1000)
  lines.push('')
  for (const w of wrkRuns) lines.push(`wrk raw GET on large segments, ${w.label}: ${formatBytes(w.rate)}/s (${w.requests} requests, ${w.errors} errors, ${flags['wrk-connections']} connections, ${flags['wrk-seconds']}s, load ${w.load.toFixed(1)})`)
  lines.push(`plain Node baseline (undici → writeFile) on large segments: ${formatBytes(baselineRate)}/s (${baseline?.files ?? '?'} files in ${formatDuration(baseline?.ms ?? NaN)})`)
  lines.push(`ratio colony/rclone wall time → dir:    ${ratio(wall('colony → dir'), wall('rclone → dir'))}  (target ≤ 0.50; mean of ${rounds} ABBA round(s))`)
  if (s3) lines.push(`ratio colony/rclone wall time → s3rver: ${ratio(wall('colony → s3rver'), wall('rclone → s3rver'))}  (target ≤ 0.50)`)
  lines.push(`colony large-segment rate / wrk raw rate (after): ${(largeRate / rawRate).toFixed(2)}  (${formatBytes(largeRate)}/s vs ${formatBytes(rawRate)}/s; target ≥ 0.80)`)
  const copyRate = cl.copyPhaseMs ? (cl.copiedBytes ?? 0) / (cl.copyPhaseMs / 1000) : NaN
  lines.push(`colony large-segment copy-phase rate / wrk raw rate (after): ${(copyRate / rawRate).toFixed(2)}  (${formatBytes(copyRate)}/s over the crawl+copy phase, without process start and verification)`)
  lines.push(`colony large-segment copy-phase rate / plain Node baseline: ${(copyRate / baselineRate).toFixed(2)}`)
  if (ceiling) lines.push(`ceiling: two curl processes (C, --parallel-max 8 each) on large segments: ${formatBytes(ceiling.rate)}/s = ${(ceiling.rate / rawRate).toFixed(2)} of wrk (exit ${ceiling.code}) — what a copier that stores the bodies reaches here`)
  lines.push(`colony/rclone wall time, large segments only: ${ratio(wall('colony → dir (large segments only)'), wall('rclone → dir (large segments only)'))}`)
  lines.push(`colony startup (transfer --help): ${formatDuration(startup.wallMs)}`)
  for (const r of results) {
    if (r.copyPhaseMs !== undefined) lines.push(`${r.name}: crawl+copy ${formatDuration(r.copyPhaseMs)}, verify ${formatDuration(r.verifyMs ?? NaN)}, ${r.retries ?? 0} retries`)
    if (r.phaseCpu) lines.push(`  phases (wall / colony CPU${r.s3rverCpuS !== undefined ? ' / s3rver CPU' : ''}, s): ${r.phaseCpu.map((p) => `${p.phase} ${(p.wallMs / 1000).toFixed(2)}/${p.colonyCpuS.toFixed(2)}${p.s3rverCpuS !== undefined ? `/${p.s3rverCpuS.toFixed(2)}` : ''}`).join(' · ')}`)
  }
  for (const r of results) {
    if (r.s3rverCpuS !== undefined) lines.push(`${r.name}: s3rver CPU ${r.s3rverCpuS.toFixed(2)} s (${((r.s3rverCpuS * 1e6) / (r.files ?? NaN)).toFixed(0)} µs per object, listing included; system ${r.s3rverSysS?.toFixed(2)} s)`)
  }
  for (const r of results) if (r.note) lines.push(`profile ${r.name}: ${r.note}`)
  const complete = results.every((r) => r.code === 0) && results.filter((r) => !r.name.includes('large')).every((r) => r.files === undefined || r.files >= expected.files)
  lines.push('', complete ? 'every copy completed with every file' : 'WARNING: a step failed or copied fewer files than the library has (see above)')
  process.stdout.write(lines.join('\n') + '\n')
  if (flags.out) await writeFile(flags.out, JSON.stringify({ expected, wrk: wrkRuns, rawRate, largeRate, copyRate, baseline, baselineRate, ceiling, startupMs: startup.wallMs, results, load: os.loadavg() }, null, 2))
}

try {
  await main()
} catch (err) {
  log(`bench failed: ${(err as Error).stack ?? String(err)}`)
  process.exitCode = 1
} finally {
  await cleanup()
}
