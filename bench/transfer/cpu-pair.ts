// colony transfer and rclone copy, alternately on one library and one origin, N pairs: median CPU-seconds (user +
// sys of the whole process, all threads, from /usr/bin/time) and wall per tool, and their ratio. CPU-seconds hold
// up on a shared machine where wall times do not.
//   node bench/transfer/cpu-pair.ts --shape mid --pairs 3            # 3,075 files of 50–200 KB, 385 MB, to a directory
//   node bench/transfer/cpu-pair.ts --shape large --to s3            # 200 × ~2 MB segments, to s3rver
//   node bench/transfer/cpu-pair.ts --shape mid --profile            # + colony under --cpu-prof, top frames per thread
//   node bench/transfer/cpu-pair.ts --baseline /tmp/colony-before   # + that checkout's colony in the same rotation
//   node bench/transfer/cpu-pair.ts --shape tiny --colony-b-args="--workers 1"   # + colony with other flags ("colony-b")
//   node bench/transfer/cpu-pair.ts --shape large --scale 5   # mid and large: 5× the files and bytes (~2 GB of segments)
// Work files live under /dev/shm (tmpfs) so neither tool pays the disk's state left by the other. Each run also
// prints the origin's (nginx's) CPU-seconds during it, and the medians a cores-bound: (tool + origin CPU) / cores,
// the shortest wall the run's CPU allows on this machine.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { startNginx } from '../../support/services.ts'
import { buildBenchLibrary, buildShapeLibrary } from './library.ts'
import { isMainThreadProfile, summariseProfiles } from './profile.ts'
import { treeCpuSeconds } from '../swarm/proc-stats.ts'
import { warmMemory } from '../warm-memory.ts'

const repo = fileURLToPath(new URL('../../', import.meta.url))
const { values: flags } = parseArgs({
  options: {
    shape: { type: 'string', default: 'mid' },
    to: { type: 'string', default: 'dir' },
    pairs: { type: 'string', default: '3' },
    /** mid and large: this many times the default library's files and bytes (start-up weighs less in a longer run). */
    scale: { type: 'string', default: '1' },
    profile: { type: 'boolean', default: false },
    'skip-rclone': { type: 'boolean', default: false },
    'colony-args': { type: 'string', default: '' },
    /** A second colony configuration (this checkout, these flags) in the same rotation, reported as colony-b. */
    'colony-b-args': { type: 'string' },
    'prof-dir': { type: 'string' },
    /** Another checkout of colony (with its node_modules) run as a third tool in the same rotation: before/after. */
    baseline: { type: 'string' },
  },
})

const base = existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir()
const work = path.join(base, `colony-cpu-pair-${process.pid}`)
type Run = { tool: string; wallS: number; cpuS: number; userS: number; sysS: number; rssMB: number; code: number | null; originCpuS?: number }

/** Runs a command under /usr/bin/time; CPU is the whole process tree's (waited-for children included). */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run & { stderr: string }> {
  return new Promise((resolve) => {
    const timeFile = path.join(work, 'time.txt')
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env }
    // rclone 1.60's S3 client cannot combine AWS_CA_BUNDLE with its own transport; loopback HTTP needs no CA anyway.
    if (cmd === 'rclone') delete childEnv.AWS_CA_BUNDLE
    const child = spawn('/usr/bin/time', ['-o', timeFile, '-f', '%e %U %S %M', cmd, ...args], { cwd: work, env: childEnv, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-4000) })
    child.on('close', (code) => {
      void readFile(timeFile, 'utf8').then((t) => {
        const [wall = NaN, user = NaN, sys = NaN, rss = NaN] = (t.trim().split('\n').at(-1) ?? '').split(' ').map(Number)
        resolve({ tool: cmd, wallS: wall, cpuS: user + sys, userS: user, sysS: sys, rssMB: rss / 1024, code, stderr })
      })
    })
  })
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? NaN }

async function main(): Promise<void> {
  await mkdir(work, { recursive: true })
  const large = flags.shape === 'large'
  const scale = Number(flags.scale)
  if (!(Number.isInteger(scale) && scale >= 1)) throw new Error(`--scale wants a whole number ≥ 1, got ${flags.scale}`)
  // tiny: ~6,000 files of 100–400 B under vod/s*/ (the far-origin bench's shape), per-file cost alone.
  const built = flags.shape === 'tiny' ? { library: buildShapeLibrary('tiny', 6000, 'vod'), largeClasses: [], smallClasses: undefined }
    : large ? buildBenchLibrary({ files: 210 * scale, bytes: 400e6 * scale, largeFiles: 200 * scale })
    : buildBenchLibrary({ files: 3000 * scale, bytes: 385e6 * scale, largeFiles: 0 })
  const originDir = path.join(work, 'origin')
  const written = await built.library.writeTo(originDir, { concurrency: 32 })
  const nginx = await startNginx({ root: originDir, workers: 2, server: 'location / { autoindex on; }' })
  const classes = new Set(large ? built.largeClasses : built.smallClasses ?? built.library.catalog('').map((e) => e.id))
  const catalog = built.library.catalog(nginx.url).filter((e) => classes.has(e.id))
  await writeFile(path.join(originDir, 'catalog.json'), JSON.stringify(catalog))
  const files = [...built.library.files.values()].filter((f) => classes.has(f.classId))
  const bytes = files.reduce((a, f) => a + f.size, 0)
  process.stderr.write(`library ${flags.shape}: ${files.length} files, ${(bytes / 1e6).toFixed(0)} MB (${written.files} written); work ${work}\n`)

  let s3: { url: string; stop: () => Promise<void> } | undefined
  if (flags.to === 's3') {
    const child = spawn(process.execPath, ['--openssl-legacy-provider', path.join(repo, 'bench/transfer/s3rver-process.ts'), path.join(work, 's3rver'), 'bench'], { stdio: ['pipe', 'pipe', 'inherit'] })
    const url = await new Promise<string>((resolve) => { let out = ''; child.stdout.on('data', (b: Buffer) => { out += b.toString(); const m = /S3RVER_READY (\S+)/.exec(out); if (m?.[1]) resolve(m[1]) }) })
    const exited = new Promise<void>((r) => child.once('exit', () => r()))
    s3 = { url, stop: async () => { child.kill('SIGTERM'); await exited } }
  }
  const rcloneConf = path.join(work, 'rclone.conf')
  await writeFile(rcloneConf, '')
  const include = large ? ['--include', '/l*/**'] : ['--include', '/s*/**']
  const rcloneArgs = (i: number): string[] => ['copy', ':http:', '--http-url', `${nginx.url}/vod/`, '--transfers', '64', '--checkers', '64', '--config', rcloneConf, '--stats', '0', ...include,
    ...(s3 ? [`:s3:bench/rclone-${i}`, '--s3-provider', 'Other', '--s3-endpoint', s3.url, '--s3-access-key-id', 'S3RVER', '--s3-secret-access-key', 'S3RVER', '--s3-region', 'us-east-1', '--s3-no-check-bucket']
      : [path.join(work, `dst-rclone-${i}`)])]
  const profDir = flags['prof-dir'] ?? path.join(work, 'prof')
  const colonyArgs = (i: number, tool: string, checkout: string): string[] => [...(flags.profile && tool === 'colony' ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []), path.join(checkout, 'bin/colony.js'), 'transfer', `${nginx.url}/catalog.json`,
    '--to', s3 ? `s3://bench/${tool}-${i}` : path.join(work, `dst-${tool}-${i}`), '--state', path.join(work, `state-${tool}-${i}`),
    ...(tool === 'colony-b' ? flags['colony-b-args'] ?? '' : flags['colony-args']).split(' ').filter(Boolean)]
  const s3Env = s3 ? { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1', COLONY_S3_ENDPOINT: s3.url } : {}

  const runs: Run[] = []
  const pairs = Number(flags.pairs)
  for (let i = 0; i < pairs; i++) {
    const tools = ['colony', 'rclone', ...(flags.baseline ? ['before'] : []), ...(flags['colony-b-args'] !== undefined ? ['colony-b'] : [])]
    const order = i % 2 === 0 ? tools : tools.reverse()
    for (const tool of order) {
      if (tool === 'rclone' && flags['skip-rclone']) continue
      // Each run writes its destination into fresh pages: it starts on warmed memory (bench/warm-memory.ts).
      await warmMemory(path.join(work, 'warm-up.bin'), 2 * bytes)
      const originPid = nginx.proc?.pid ?? 0
      const originBefore = treeCpuSeconds(originPid)
      const r = tool === 'rclone' ? await timed('rclone', rcloneArgs(i))
        : await timed(process.execPath, colonyArgs(i, tool, tool === 'before' ? flags.baseline ?? repo : repo), s3Env)
      r.tool = tool
      r.originCpuS = treeCpuSeconds(originPid) - originBefore
      if (r.code !== 0) process.stderr.write(`  ${tool} exit ${r.code}: ${r.stderr}\n`)
      await rm(path.join(work, `state-${tool}-${i}`), { recursive: true, force: true })
      process.stderr.write(`  ${tool.padEnd(6)} wall ${r.wallS.toFixed(2)} s  cpu ${r.cpuS.toFixed(2)} s (user ${r.userS.toFixed(2)}, sys ${r.sysS.toFixed(2)})  rss ${r.rssMB.toFixed(0)} MB  ${((bytes / 1e6) / r.wallS).toFixed(0)} MB/s  origin cpu ${r.originCpuS.toFixed(2)} s  load ${os.loadavg()[0]?.toFixed(1)}\n`)
      runs.push(r)
      await rm(path.join(work, `dst-${tool}-${i}`), { recursive: true, force: true })
    }
  }
  const stat = (tool: string): { wall: number; cpu: number; origin: number } => {
    const mine = runs.filter((r) => r.tool === tool)
    return { wall: median(mine.map((r) => r.wallS)), cpu: median(mine.map((r) => r.cpuS)), origin: median(mine.map((r) => r.originCpuS ?? NaN)) }
  }
  const c = stat('colony')
  const r = stat('rclone')
  // The machine's floor for a run: the copier's and the origin's CPU-seconds spread over every core.
  const floor = (m: { cpu: number; origin: number }): string => `origin cpu ${m.origin.toFixed(2)} s, cores-bound ${((m.cpu + m.origin) / os.cpus().length).toFixed(2)} s`
  const line = (tool: string, m: { wall: number; cpu: number; origin: number }): string => `${tool} wall ${m.wall.toFixed(2)} s cpu ${m.cpu.toFixed(2)} s (${((bytes / 1e6) / m.wall).toFixed(0)} MB/s, ratio to rclone: wall ${(m.wall / r.wall).toFixed(2)} cpu ${(m.cpu / r.cpu).toFixed(2)}; ${floor(m)})`
  const colonyB = flags['colony-b-args'] !== undefined ? ` | ${line(`colony-b (${flags['colony-b-args']})`, stat('colony-b'))}` : ''
  process.stdout.write(`${flags.shape} → ${flags.to}, ${pairs} rounds, medians: ${line('colony', c)}${colonyB}${flags.baseline ? ` | ${line('before', stat('before'))}` : ''} | rclone wall ${r.wall.toFixed(2)} s cpu ${r.cpu.toFixed(2)} s (${((bytes / 1e6) / r.wall).toFixed(0)} MB/s; ${floor(r)})\n`)
  if (flags.profile) {
    for (const [label, only] of [['main', isMainThreadProfile], ['workers', (f: string) => !isMainThreadProfile(f)]] as const) {
      const p = await summariseProfiles(profDir, 15, only)
      process.stdout.write(`profile ${label} (all colony runs): ${p.totalMs} ms sampled\n${p.frames.map((f) => `  ${(f.share * 100).toFixed(1).padStart(5)}%  ${String(f.selfMs).padStart(6)} ms  ${f.frame}`).join('\n')}\n`)
    }
  }
  await s3?.stop()
  await nginx.stop()
}

try {
  await main()
} finally {
  await rm(work, { recursive: true, force: true })
}
