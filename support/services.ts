// Real servers for integration tests and benchmarks: each on a free loopback port in its own temp dir, stopped after.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

export type Service = { url: string; port: number; dir: string; proc?: ChildProcess; stop: () => Promise<void> }

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo
      srv.close(() => resolve(port))
    })
  })
}

export async function makeTempDir(prefix = 'colony-test-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix))
}

/** Polls `check` until it returns a truthy value; fails with `message` after `timeoutMs`. */
export async function waitFor<T>(check: () => T | Promise<T>, options: { timeoutMs?: number; intervalMs?: number; message?: string } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + (options.timeoutMs ?? 15_000)
  let lastErr: unknown
  for (;;) {
    try {
      const v = await check()
      if (v) return v as NonNullable<T>
    } catch (err) { lastErr = err }
    if (Date.now() > deadline) {
      throw new Error(`timed out: ${options.message ?? 'condition not met'}${lastErr ? ` (last error: ${String(lastErr)})` : ''}`)
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 50))
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => resolve(false))
  })
}

/** Spawns a server process, waits for its port to accept, and returns a stopper that SIGTERMs then SIGKILLs. */
export async function startProcess(cmd: string, args: string[], options: { port: number; dir: string; env?: NodeJS.ProcessEnv; ready?: () => Promise<boolean>; timeoutMs?: number }): Promise<ChildProcess> {
  const proc = spawn(cmd, args, { cwd: options.dir, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const keep = (b: Buffer): void => { output = (output + b.toString()).slice(-4000) }
  proc.stdout?.on('data', keep)
  proc.stderr?.on('data', keep)
  let exited = false
  proc.once('exit', () => { exited = true })
  await waitFor(async () => {
    if (exited) throw new Error(`${cmd} exited early: ${output}`)
    return options.ready ? options.ready() : canConnect(options.port)
  }, { timeoutMs: options.timeoutMs ?? 20_000, message: `${cmd} listening on ${options.port}` })
  return proc
}

export async function stopProcess(proc: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return
  const gone = new Promise<void>((r) => proc.once('exit', () => r()))
  proc.kill(signal)
  // COLONY_STOP_TIMEOUT_MS: a process writing a --cpu-prof on exit (bench/swarm profiling) may need longer.
  const t = setTimeout(() => proc.kill('SIGKILL'), Number(process.env.COLONY_STOP_TIMEOUT_MS ?? 5000))
  await gone
  clearTimeout(t)
}

export type RedisOptions = { appendonly?: boolean; port?: number; dir?: string }

/** redis-server with persistence off unless asked (AOF on for restart tests: pass the same dir and port back). */
export async function startRedis(options: RedisOptions = {}): Promise<Service> {
  const dir = options.dir ?? await makeTempDir('colony-redis-')
  const port = options.port ?? await freePort()
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', options.appendonly ? 'yes' : 'no', '--appendfsync', 'everysec', '--protected-mode', 'no']
  const proc = await startProcess('redis-server', args, { port, dir })
  return {
    url: `redis://127.0.0.1:${port}`, port, dir, proc,
    stop: async () => { await stopProcess(proc); if (!options.dir) await rm(dir, { recursive: true, force: true }) },
  }
}

/** A single-member etcd cluster on loopback. */
export async function startEtcd(): Promise<Service> {
  const dir = await makeTempDir('colony-etcd-')
  const port = await freePort()
  const peer = await freePort()
  const url = `http://127.0.0.1:${port}`
  const args = ['--name', 'test', '--data-dir', path.join(dir, 'data'), '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
    '--initial-cluster', `test=http://127.0.0.1:${peer}`, '--log-level', 'error']
  const proc = await startProcess('etcd', args, {
    port, dir, env: { ETCD_UNSUPPORTED_ARCH: process.arch === 'arm64' ? 'arm64' : '' },
    ready: async () => { try { const r = await fetch(`${url}/health`); return r.ok } catch { return false } },
  })
  return { url, port, dir, proc, stop: async () => { await stopProcess(proc); await rm(dir, { recursive: true, force: true }) } }
}

export type NginxOptions = {
  /** Document root served at /. */
  root?: string
  /** Raw directives inside the server block (locations…). @defaultValue '' */
  server?: string
  /** Raw directives inside http {} (upstreams, nchan shared memory…). @defaultValue '' */
  http?: string
  /** load_module lines, e.g. ['/usr/lib/nginx/modules/ngx_nchan_module.so']. @defaultValue [] */
  modules?: string[]
  /** worker_processes. @defaultValue 1 */
  workers?: number | 'auto'
  port?: number
}

/** nginx in the foreground with everything (pid, temp paths, logs) under its own temp dir. */
export async function startNginx(options: NginxOptions = {}): Promise<Service> {
  const dir = await makeTempDir('colony-nginx-')
  const port = options.port ?? await freePort()
  const conf = `${(options.modules ?? []).map((m) => `load_module ${m};`).join('\n')}
user root;
worker_processes ${options.workers ?? 1};
worker_rlimit_nofile 19000;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 16000; }
http {
  include /etc/nginx/mime.types;
  types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; video/mp4 m4s mp4; }
  default_type application/octet-stream;
  access_log off;
  sendfile on; tcp_nopush on; keepalive_requests 100000;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  ${options.http ?? ''}
  server {
    listen 127.0.0.1:${port} reuseport;
    ${options.root ? `root ${options.root};` : ''}
    ${options.server ?? ''}
  }
}
`
  await writeFile(path.join(dir, 'nginx.conf'), conf)
  const proc = await startProcess('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'], { port, dir })
  return { url: `http://127.0.0.1:${port}`, port, dir, proc, stop: async () => { await stopProcess(proc, 'SIGQUIT'); await rm(dir, { recursive: true, force: true }) } }
}

/** s3rver (npm) in-process, with the given buckets created. Credentials: S3RVER / S3RVER. */
export async function startS3rver(buckets: string[] = ['test']): Promise<Service & { credentials: { accessKeyId: string; secretAccessKey: string } }> {
  const { default: S3rver } = await import('s3rver')
  const dir = await makeTempDir('colony-s3-')
  const port = await freePort()
  const server = new S3rver({ port, address: '127.0.0.1', silent: true, directory: dir, configureBuckets: buckets.map((name) => ({ name, configs: [] })) })
  await server.run()
  return {
    url: `http://127.0.0.1:${port}`, port, dir,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    stop: async () => { await server.close(); await rm(dir, { recursive: true, force: true }) },
  }
}
