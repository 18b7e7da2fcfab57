// Starts the servers a benchmark run compares, each on a free loopback port with everything under a temp
// dir, and stops them (whole process group) afterwards. The root PID lets /proc accounting find every worker.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { BenchError } from './bench-error.ts'

export type StartedServer = { url: string; port: number; pid: number; stop: () => Promise<void> }

const running = new Set<() => Promise<void>>()

/** Stops every server this process started and has not stopped yet (for SIGINT/SIGTERM handlers). */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...running].map((stop) => stop().catch(() => {})))
}

/**
 * On SIGINT/SIGTERM, stop the servers this process started, then exit: they run in their own process group
 * and would otherwise outlive an interrupted benchmark.
 */
export function stopServersOnSignal(): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => { void stopAllServers().finally(() => process.exit(130)) })
  }
}

function track(stop: () => Promise<void>): () => Promise<void> {
  const once = async (): Promise<void> => { running.delete(once); await stop() }
  running.add(once)
  return once
}

const COLONY_BIN = fileURLToPath(new URL('../../../bin/colony.js', import.meta.url))
export const NCHAN_MODULE = '/usr/lib/nginx/modules/ngx_nchan_module.so'

export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo
      srv.close(() => resolve(port))
    })
  })
}

async function waitReady(proc: ChildProcess, url: string, output: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new BenchError('LIVE_BENCH_SERVER', `server exited early: ${output()}`)
    try {
      const res = await fetch(`${url}/healthz`)
      await res.body?.cancel()
      if (res.ok) return
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new BenchError('LIVE_BENCH_SERVER', `server at ${url} not ready after ${timeoutMs} ms: ${output()}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

function spawnServer(cmd: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv): { proc: ChildProcess; output: () => string } {
  // detached: its own process group, so stop() reaches workers even if the primary dies first.
  const proc = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let out = ''
  const keep = (b: Buffer): void => { out = (out + b.toString()).slice(-4000) }
  proc.stdout?.on('data', keep)
  proc.stderr?.on('data', keep)
  return { proc, output: () => out }
}

async function stopGroup(proc: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return
  const gone = new Promise<void>((r) => proc.once('exit', () => r()))
  const pid = proc.pid
  try { process.kill(-pid, signal) } catch { proc.kill(signal) }
  const t = setTimeout(() => { try { process.kill(-pid, 'SIGKILL') } catch { /* already gone */ } }, 10_000)
  await gone
  clearTimeout(t)
}

/**
 * `colony live serve` flags a benchmark needs: limits opened up for one client address holding thousands of
 * connections, and like-coalescing on or off.
 */
export function colonyServeArgs(coalesce: boolean, connections: number): string[] {
  return ['--capacity', String(connections), '--max-conns-per-ip', '0', '--max-pending-per-ip', '0', '--conn-rate', '0', '--publish-rate', '0', ...(coalesce ? [] : ['--coalesce', 'none'])]
}

export type ColonyServerOptions = {
  /** Worker processes (`--workers`). */
  workers: number
  /** Publish token. */
  token: string
  /** Extra `colony live serve` arguments (limits, coalescing). @defaultValue [] */
  args?: string[]
  /** Extra environment. @defaultValue {} */
  env?: NodeJS.ProcessEnv
  /** Extra node flags for the server processes, e.g. ['--cpu-prof']. @defaultValue [] */
  nodeArgs?: string[]
}

/** `colony live serve` as a user would run it (bin/colony.js), on a free port. */
export async function startColonyServer(options: ColonyServerOptions): Promise<StartedServer> {
  const port = await freeLoopbackPort()
  const url = `http://127.0.0.1:${port}`
  const cwd = await mkdtemp(path.join(os.tmpdir(), 'colony-live-bench-'))
  const args = [...(options.nodeArgs ?? []), COLONY_BIN, 'live', 'serve', '--port', String(port), '--workers', String(options.workers), '--token', options.token, ...(options.args ?? [])]
  const { proc, output } = spawnServer(process.execPath, args, cwd, { COLONY_LOG_LEVEL: 'warn', ...options.env })
  const stop = track(async () => { await stopGroup(proc, 'SIGTERM'); await rm(cwd, { recursive: true, force: true }) })
  try { await waitReady(proc, url, output, 30_000) } catch (err) { await stop(); throw err }
  return { url, port, pid: proc.pid ?? 0, stop }
}

export type NchanServerOptions = {
  /** nginx worker_processes. */
  workers: number
  /** Messages kept per channel. @defaultValue 16 */
  bufferLength?: number
}

/** nginx + nchan: POST /pub/<topic> publishes, GET /sub/<topic> is an EventSource subscriber. */
export async function startNchanServer(options: NchanServerOptions): Promise<StartedServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'colony-nchan-bench-'))
  const port = await freeLoopbackPort()
  const conf = `load_module ${NCHAN_MODULE};
worker_processes ${options.workers};
worker_rlimit_nofile 19900;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log error;
events { worker_connections 19800; multi_accept on; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  nchan_max_reserved_memory 512M;
  server {
    listen 127.0.0.1:${port} reuseport backlog=4096;
    location = /healthz { return 200 "ok\\n"; }
    location ~ ^/pub/([A-Za-z0-9._~:-]+)$ {
      nchan_publisher; nchan_channel_id $1;
      nchan_message_buffer_length ${options.bufferLength ?? 16}; nchan_message_timeout 60s;
    }
    location ~ ^/sub/([A-Za-z0-9._~:-]+)$ { nchan_subscriber eventsource; nchan_channel_id $1; nchan_subscriber_timeout 0; }
  }
}
`
  await writeFile(path.join(dir, 'nginx.conf'), conf)
  const url = `http://127.0.0.1:${port}`
  const { proc, output } = spawnServer('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'], dir)
  const stop = track(async () => { await stopGroup(proc, 'SIGQUIT'); await rm(dir, { recursive: true, force: true }) })
  try { await waitReady(proc, url, output, 15_000) } catch (err) { await stop(); throw err }
  return { url, port, pid: proc.pid ?? 0, stop }
}
