// colony's own CPU per file and per MB for a real-shaped copy: HTTPS origin (nginx, a local CA made here with
// openssl) → colony → S3 over HTTPS (s3rver with the same CA), MD5 checked against the ETag. The figure the 16M-file
// paper model of docs/benchmarks/distributed.md uses for its copy-CPU term.
//   node bench/transfer/cpu-model.ts [--tiny-files 3000] [--mid-files 1000] [--large-files 100] [--reps 2] [--plain]
// CPU = user+sys of colony's process (all threads) from /usr/bin/time; each shape's median over --reps runs. The
// fixed cost (start-up, planning, exit) is colony's CPU for the same command on an empty catalog; per file and per
// MB are then solved from the tiny (files dominate) and large (bytes dominate) shapes, and checked on mid.
// --plain runs the same over HTTP both ways, so the TLS share shows.
import { spawn } from 'node:child_process'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { formatBytes } from '../../src/shared/units.ts'
import { freePort, startNginx } from '../../support/services.ts'
import { buildShapeLibrary, LIBRARY_SHAPES, type LibraryShape } from './library.ts'
import { median, timed } from './timed.ts'

const repo = fileURLToPath(new URL('../../', import.meta.url))
const { values: flags } = parseArgs({
  options: {
    'tiny-files': { type: 'string', default: '3000' },
    'mid-files': { type: 'string', default: '1000' },
    'large-files': { type: 'string', default: '100' },
    reps: { type: 'string', default: '2' },
    plain: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
})
if (flags.help) {
  process.stdout.write('Usage: node bench/transfer/cpu-model.ts [--tiny-files 3000] [--mid-files 1000] [--large-files 100] [--reps 2] [--plain] [--keep]\n')
  process.exit(0)
}
const work = path.join(os.tmpdir(), `colony-bench-cpu-${process.pid}`)
const log = (line: string): void => { process.stderr.write(`${line}\n`) }
const stoppers: Array<() => Promise<void>> = []

/** A CA and a certificate for 127.0.0.1 signed by it (ECDSA P-256), made with openssl in `dir`. */
async function makeCerts(dir: string): Promise<{ ca: string; key: string; cert: string }> {
  const sh = (script: string): Promise<void> => new Promise((resolve, reject) => {
    const c = spawn('sh', ['-c', script], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    c.stderr.on('data', (b: Buffer) => { err += b.toString() })
    c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`openssl: ${err}`))))
  })
  await writeFile(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
  await sh([
    'openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=colony-bench-ca',
    'openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1',
    'openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile san.ext',
  ].join(' && '))
  return { ca: path.join(dir, 'ca.crt'), key: path.join(dir, 'server.key'), cert: path.join(dir, 'server.crt') }
}

/** s3rver in its own process (bench/transfer/s3rver-process.ts), over HTTPS when given a key and certificate. */
async function startS3(dir: string, tls?: { key: string; cert: string }): Promise<string> {
  const child = spawn(process.execPath, ['--openssl-legacy-provider', path.join(repo, 'bench/transfer/s3rver-process.ts'), dir, 'bench', ...(tls ? [tls.key, tls.cert] : [])], { stdio: ['pipe', 'pipe', 'inherit'] })
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  stoppers.push(async () => { child.kill('SIGTERM'); await exited; await rm(dir, { recursive: true, force: true }) })
  return new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); const m = /S3RVER_READY (\S+)/.exec(out); if (m?.[1]) resolve(m[1]) })
    child.once('exit', (code) => reject(new Error(`s3rver exited (${code}) before it was ready`)))
  })
}

type Row = { shape: LibraryShape | 'empty'; files: number; mb: number; cpuS: number; wallS: number; runs: number[] }

async function main(): Promise<void> {
  await mkdir(work, { recursive: true })
  const certs = await makeCerts(work)
  const originDir = path.join(work, 'origin')
  const libs = LIBRARY_SHAPES.map((shape) => ({ shape, lib: buildShapeLibrary(shape, Number(flags[`${shape}-files`]), `vod-${shape}`) }))
  for (const { lib } of libs) await lib.writeTo(originDir, { concurrency: 32 })
  const tlsPort = await freePort()
  const nginx = await startNginx({
    root: originDir, workers: 2,
    server: `listen 127.0.0.1:${tlsPort} ssl; ssl_certificate ${certs.cert}; ssl_certificate_key ${certs.key}; ssl_protocols TLSv1.3; location / { autoindex on; }`,
  })
  stoppers.push(nginx.stop)
  const tls = !flags.plain
  const origin = tls ? `https://127.0.0.1:${tlsPort}` : nginx.url
  const s3 = await startS3(path.join('/dev/shm', `colony-bench-cpu-s3-${process.pid}`), tls ? certs : undefined)
  const env = { NODE_EXTRA_CA_CERTS: certs.ca, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' }
  await writeFile(path.join(originDir, 'catalog-empty.json'), '[]\n')
  for (const { shape, lib } of libs) await writeFile(path.join(originDir, `catalog-${shape}.json`), lib.catalogJson(origin))
  log(`origin ${origin}, S3 ${s3}`)

  let n = 0
  const copy = async (shape: Row['shape']): Promise<{ cpuS: number; wallS: number }> => {
    const i = n++
    const r = await timed(process.execPath, [path.join(repo, 'bin/colony.js'), 'transfer', `${origin}/catalog-${shape}.json`, '--to', `s3://bench/run-${i}`,
      '--s3-endpoint', s3, '--state', path.join(work, `state-${i}`)], { cwd: work, timeoutMs: 900_000, env, log })
    if (r.code !== 0 && shape !== 'empty') log(`  exit ${r.code}: ${r.stderr.slice(-1000)}${r.stdout.slice(-1000)}`)
    log(`  ${shape}: ${r.wallS.toFixed(2)} s, ${r.cpuS.toFixed(2)} CPU-s (user ${r.userS.toFixed(2)}, sys ${r.sysS.toFixed(2)}), load ${os.loadavg()[0]?.toFixed(1)}`)
    return r
  }
  const rows: Row[] = []
  for (const shape of ['empty', ...LIBRARY_SHAPES] as const) {
    const lib = libs.find((l) => l.shape === shape)?.lib
    const runs: Array<{ cpuS: number; wallS: number }> = []
    for (let k = 0; k < Math.max(1, Number(flags.reps)); k++) runs.push(await copy(shape))
    rows.push({ shape, files: lib?.files.size ?? 0, mb: (lib?.totalBytes ?? 0) / 1e6, cpuS: median(runs.map((r) => r.cpuS)), wallS: median(runs.map((r) => r.wallS)), runs: runs.map((r) => r.cpuS) })
  }
  // CPU = fixed + perFile·files + perMB·MB; fixed from the empty catalog, the other two from tiny and large.
  const [empty, tiny, mid, large] = rows as [Row, Row, Row, Row]
  const a = [tiny.files, tiny.mb, large.files, large.mb]
  const y = [tiny.cpuS - empty.cpuS, large.cpuS - empty.cpuS]
  const det = (a[0] as number) * (a[3] as number) - (a[1] as number) * (a[2] as number)
  const perFile = ((y[0] as number) * (a[3] as number) - (a[1] as number) * (y[1] as number)) / det
  const perMB = ((a[0] as number) * (y[1] as number) - (y[0] as number) * (a[2] as number)) / det
  const predictedMid = empty.cpuS + perFile * mid.files + perMB * mid.mb
  const lines = [
    '', `${tls ? 'HTTPS origin (nginx, TLS 1.3, ECDSA P-256) → colony → s3rver over HTTPS' : 'HTTP origin → colony → s3rver over HTTP'}, MD5 checked against the ETag; ${os.cpus().length} CPUs shared with other work, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`, '',
    '| library | files | bytes | colony wall (median) | colony CPU-s (median; runs) |', '|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.shape} | ${r.files} | ${formatBytes(r.mb * 1e6)} | ${r.wallS.toFixed(2)} s | ${r.cpuS.toFixed(2)} (${r.runs.map((x) => x.toFixed(2)).join(', ')}) |`),
    '', `fixed ${empty.cpuS.toFixed(2)} CPU-s; per file ${(perFile * 1000).toFixed(3)} ms; per MB ${(perMB * 1000).toFixed(2)} ms`,
    `mid predicted ${predictedMid.toFixed(2)} CPU-s, measured ${mid.cpuS.toFixed(2)} (${((mid.cpuS / predictedMid - 1) * 100).toFixed(0)} %)`,
    `a 250 KB file: ${((perFile + perMB * 0.25) * 1000).toFixed(2)} ms of colony CPU`,
  ]
  process.stdout.write(lines.join('\n') + '\n')
}

try {
  await main()
} catch (err) {
  log(`bench failed: ${(err as Error).stack ?? String(err)}`)
  process.exitCode = 1
} finally {
  for (const stop of stoppers.reverse()) await stop().catch(() => undefined)
  if (!flags.keep) await rm(work, { recursive: true, force: true })
}
