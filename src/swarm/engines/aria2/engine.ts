// The aria2 engine: one aria2c child per agent, driven over its JSON-RPC on loopback with a random secret.
// aria2 verifies every piece and bans (by IP, 2–10 min) a peer whose piece fails its hash; the agent counts
// those events from aria2's log ("we got wrong piece").
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, rm, stat } from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import type { EngineAddOptions, EngineOptions, EngineTorrent, SwarmEngine } from '../engine.ts'
import { SwarmError } from '../../errors.ts'
import { pickListenPort, releaseListenPort } from './listen-port.ts'
import { Aria2Torrent, STATUS_KEYS, type Aria2Status } from './torrent.ts'
import { parseTorrentFile } from '../../torrent-file.ts'

/** aria2c binary; COLONY_SWARM_ARIA2C overrides (tests point it at a missing file). */
export function aria2Binary(): string {
  return process.env.COLONY_SWARM_ARIA2C ?? 'aria2c'
}

async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port
      srv.close(() => resolve(port))
    })
  })
}

/**
 * Starts `aria2c --enable-rpc` bound to 127.0.0.1 with a random secret, DHT/LPD/PEX off, the agent's caps,
 * and `--stop-with-process` so it never outlives the agent. Fails with SWARM_ENGINE_MISSING without aria2c.
 */
export async function startAria2Engine(options: EngineOptions): Promise<SwarmEngine> {
  if (options.peerHost !== undefined) throw new SwarmError('SWARM_BAD_REQUEST', 'peerHost needs the native engine (this agent runs aria2)')
  const dir = path.join(options.dataDir, 'aria2')
  await mkdir(dir, { recursive: true })
  const secret = randomBytes(16).toString('hex')
  const rpcPort = await freeLoopbackPort()
  const port = options.listenPort || await pickListenPort()
  const args = [
    '--no-conf', '--enable-rpc', '--rpc-listen-all=false', `--rpc-listen-port=${rpcPort}`, `--rpc-secret=${secret}`,
    '--rpc-max-request-size=64M', `--stop-with-process=${process.pid}`,
    `--listen-port=${port}`, '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false',
    '--disable-ipv6=true', `--max-overall-upload-limit=${options.uploadLimit}`, `--max-overall-download-limit=${options.downloadLimit}`,
    '--file-allocation=none', '--seed-ratio=0.0', '--max-concurrent-downloads=1000', '--bt-detach-seed-only=true',
    '--bt-save-metadata=false', '--rpc-save-upload-metadata=false', '--auto-file-renaming=false', '--bt-stop-timeout=0',
    '--bt-max-open-files=1000', '--summary-interval=0', '--show-console-readout=false', '--enable-color=false',
    // INFO carries "we got wrong piece" (the ban); it is a few lines per connection, not per block.
    '--console-log-level=info', `--dir=${dir}`,
    // Extra aria2c options, space-separated (experiments: tracker interval, peer limits …); later ones win.
    ...(process.env.COLONY_SWARM_ARIA2_ARGS?.split(/\s+/).filter(Boolean) ?? []),
  ]
  const proc: ChildProcess = spawn(aria2Binary(), args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let tail = ''
  let exited: string | undefined
  const spawnError = new Promise<never>((_, reject) => {
    proc.once('error', (err: NodeJS.ErrnoException) => {
      exited = err.message
      reject(err.code === 'ENOENT'
        ? new SwarmError('SWARM_ENGINE_MISSING', `aria2c not found (${aria2Binary()}); install the aria2 package or run the agent with --engine native`, { cause: err })
        : new SwarmError('SWARM_ENGINE_FAILED', `cannot start aria2c: ${err.message}`, { cause: err }))
    })
  })
  spawnError.catch(() => undefined)
  proc.once('exit', (code, signal) => { exited ??= `aria2c exited (${code ?? signal ?? '?'}): ${tail.slice(-500)}` })

  const torrents = new Map<string, Aria2Torrent>()
  let bans = 0
  // INFO output is ~30 KB per MB moved: scan the raw bytes for the one message that matters, never split lines.
  const needle = Buffer.from('we got wrong piece')
  let carry = Buffer.alloc(0)
  proc.stdout?.on('data', (b: Buffer) => {
    const buf = carry.length ? Buffer.concat([carry, b]) : b
    for (let at = buf.indexOf(needle); at >= 0; at = buf.indexOf(needle, at + needle.length)) {
      bans++
      // aria2 logs the connection, not the torrent: blame the torrents still downloading (usually one).
      const t = [...torrents.values()].find((x) => !x.status().complete && !x.stopped)
      if (t) { t.bannedCount++; t.emit('ban', { address: 'aria2', peerId: '' }) }
      options.log.warn({ bans }, 'aria2 dropped and banned a peer for a bad piece')
    }
    carry = Buffer.from(buf.subarray(Math.max(0, buf.length - needle.length + 1)))
  })
  proc.stderr?.on('data', (b: Buffer) => { tail = (tail + b.toString()).slice(-2000) })

  let rpcId = 0
  // Over HTTP until the WebSocket is open (start-up, or if it drops); then every call goes over the socket, which
  // also carries aria2's push notifications (download complete/error) so the agent need not poll fast for them.
  let ws: WebSocket | undefined
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; method: string; timer: NodeJS.Timeout }>()
  const rpc = async <T>(method: string, params: unknown[] = [], withToken = true): Promise<T> => {
    if (exited) throw new SwarmError('SWARM_ENGINE_FAILED', exited)
    const id = ++rpcId
    const body = JSON.stringify({ jsonrpc: '2.0', id, method, params: withToken ? [`token:${secret}`, ...params] : params })
    const socket = ws
    if (socket && socket.readyState === WebSocket.OPEN) {
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => { waiting.delete(id); reject(new SwarmError('SWARM_ENGINE_FAILED', `aria2 ${method}: timed out`)) }, 15_000)
        waiting.set(id, { resolve: resolve as (v: unknown) => void, reject, method, timer })
        socket.send(body)
      })
    }
    const res = await fetch(`http://127.0.0.1:${rpcPort}/jsonrpc`, {
      // identity: aria2 gzips its answers otherwise, and a zlib stream per poll cost more CPU than the poll itself.
      method: 'POST', headers: { 'content-type': 'application/json', 'accept-encoding': 'identity' },
      body, signal: AbortSignal.timeout(15_000),
    })
    const answer = await res.json() as { result?: T; error?: { code: number; message: string } }
    if (answer.error) throw new SwarmError('SWARM_ENGINE_FAILED', `aria2 ${method}: ${answer.error.message}`)
    return answer.result as T
  }
  const onSocketMessage = (ev: MessageEvent): void => {
    let msg: { id?: number; method?: string; result?: unknown; error?: { message: string } }
    try { msg = JSON.parse(String(ev.data)) as typeof msg } catch { return }
    if (msg.method) {
      // aria2.onDownloadComplete / onBtDownloadComplete / onDownloadError / …: refresh now rather than at the next tick.
      kick()
      return
    }
    const w = msg.id === undefined ? undefined : waiting.get(msg.id)
    if (!w) return
    waiting.delete(msg.id as number)
    clearTimeout(w.timer)
    if (msg.error) w.reject(new SwarmError('SWARM_ENGINE_FAILED', `aria2 ${w.method}: ${msg.error.message}`))
    else w.resolve(msg.result)
  }
  const openSocket = async (): Promise<void> => {
    const socket = new WebSocket(`ws://127.0.0.1:${rpcPort}/jsonrpc`)
    await new Promise<void>((resolve) => {
      socket.addEventListener('open', () => resolve(), { once: true })
      socket.addEventListener('error', () => resolve(), { once: true })
    })
    if (socket.readyState !== WebSocket.OPEN) return
    socket.addEventListener('message', onSocketMessage)
    socket.addEventListener('close', () => {
      if (ws === socket) ws = undefined
      for (const [id, w] of waiting) { waiting.delete(id); clearTimeout(w.timer); w.reject(new SwarmError('SWARM_ENGINE_FAILED', exited ?? 'aria2 RPC socket closed')) }
    })
    ws = socket
  }

  // Wait for the RPC server.
  const started = Date.now()
  for (;;) {
    try {
      await Promise.race([rpc('aria2.getVersion'), spawnError])
      break
    } catch (err) {
      if (err instanceof SwarmError && err.code === 'SWARM_ENGINE_MISSING') throw err
      if (exited || Date.now() - started > 20_000) {
        proc.kill('SIGKILL')
        throw new SwarmError('SWARM_ENGINE_FAILED', `aria2c did not start: ${exited ?? (err as Error).message}`)
      }
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  await openSocket()

  let closed = false
  let timer: NodeJS.Timeout | undefined
  let polling: Promise<void> | undefined
  let again = false
  /** Polls now (after an add, so the caller does not wait for the next tick); coalesces with a poll in flight. */
  const kick = (): void => {
    if (polling) { again = true; return }
    clearTimeout(timer)
    polling = poll().finally(() => {
      polling = undefined
      if (again && !closed) { again = false; kick() }
    })
  }
  const poll = async (): Promise<void> => {
    const live = [...torrents.values()].filter((t) => !t.stopped)
    if (live.length > 0) {
      try {
        const calls = live.map((t) => ({ methodName: 'aria2.tellStatus', params: [`token:${secret}`, t.gid, STATUS_KEYS] }))
        const results = await rpc<unknown[]>('system.multicall', [calls], false)
        for (const [i, r] of results.entries()) {
          const t = live[i]
          if (!t || t.stopped) continue
          if (Array.isArray(r) && r[0]) t.update(r[0] as Aria2Status)
        }
      } catch (err) {
        if (!closed) options.log.debug({ err: String(err) }, 'aria2 poll failed')
        if (exited && !closed) for (const t of live) if (!t.stopped) t.emit('error', new SwarmError('SWARM_ENGINE_FAILED', exited))
      }
    }
    if (closed) return
    // While anything downloads: every 300 ms over HTTP, 1 s over the WebSocket (completion arrives as a
    // notification, which polls at once); 2 s when everything seeds (byte counters only).
    // Torrents just added (not yet checked) are polled quickly: add() waits for that check.
    const busy = live.some((t) => !t.status().complete)
    const fresh = live.some((t) => !t.checked)
    clearTimeout(timer)
    timer = setTimeout(kick, fresh || (busy && !ws) ? 300 : busy ? 1000 : 2000)
    timer.unref()
  }
  kick()

  const remove = async (gid: string, wait: boolean): Promise<void> => {
    torrents.delete(gid)
    try { await rpc('aria2.forceRemove', [gid]) } catch { /* already gone */ }
    // aria2 removes on its next tick (≤ 1 s); until then it may still write the file.
    for (const until = Date.now() + 3000; wait && Date.now() < until;) {
      try {
        const st = await rpc<{ status: string }>('aria2.tellStatus', [gid, ['status']])
        if (st.status === 'removed' || st.status === 'error' || st.status === 'complete') break
      } catch { break }
      await new Promise((r) => setTimeout(r, 100))
    }
    try { await rpc('aria2.removeDownloadResult', [gid]) } catch { /* not yet stopped; aria2 keeps the result */ }
  }

  const add = async (torrent: Buffer, infoHash: string, opts: EngineAddOptions): Promise<EngineTorrent> => {
    for (const t of torrents.values()) if (t.infoHash === infoHash) await t.stop({ wait: opts.complete })
    const parsed = await parseTorrentFile(torrent)
    await mkdir(opts.dir, { recursive: true })
    // aria2 trusts its control file over `bt-seed-unverified`: one left by an earlier, partial download of the
    // same torrent (a follower that became the leader and fetched the segment itself) would make it seed only the
    // pieces it had held, and followers missing the others would wait forever.
    if (opts.complete) await rm(path.join(opts.dir, `${parsed.name}.aria2`), { force: true })
    const existing = await stat(path.join(opts.dir, parsed.name)).then((st) => st.size, () => -1)
    const onDisk = existing > 0
    const addOptions: Record<string, string> = {
      dir: opts.dir,
      'follow-torrent': 'false',
      ...(opts.trackers.length ? { 'bt-tracker': opts.trackers.join(',') } : {}),
      // Checking only what is there to check: a fresh torrent that goes through aria2's integrity check starts
      // (announces, connects) a second or more later, on aria2's next tick.
      ...(opts.complete ? { 'bt-seed-unverified': 'true', 'check-integrity': 'false' } : { 'check-integrity': existing >= 0 ? 'true' : 'false' }),
      ...(opts.maxPeers ? { 'bt-max-peers': String(opts.maxPeers) } : {}),
    }
    const gid = await rpc<string>('aria2.addTorrent', [torrent.toString('base64'), [], addOptions])
    const t = new Aria2Torrent(gid, infoHash, parsed.pieceLength, parsed.length, remove)
    t.mayResume = onDisk && !opts.complete
    t.seedOnly = opts.complete
    torrents.set(gid, t)
    kick()
    // Ready once aria2 has checked what is on disk.
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (t.checked) { cleanup(); resolve() }
      }
      const onError = (err: Error): void => { cleanup(); reject(err) }
      const cleanup = (): void => { t.off('progress', check); t.off('done', check); t.off('error', onError); clearInterval(iv) }
      const iv = setInterval(check, 50)
      t.on('progress', check)
      t.on('done', check)
      t.on('error', onError)
      check()
    })
    return t
  }

  return {
    kind: 'aria2',
    port,
    add,
    close: async () => {
      closed = true
      clearTimeout(timer)
      if (!exited) {
        try { await rpc('aria2.forceShutdown') } catch { /* exiting */ }
        ws?.close()
        await new Promise<void>((resolve) => {
          if (exited) { resolve(); return }
          // forceShutdown still says goodbye to every tracker; nothing of ours is lost by not waiting long for it.
          const kill = setTimeout(() => { proc.kill('SIGKILL') }, 500)
          proc.once('exit', () => { clearTimeout(kill); resolve() })
        })
      }
      if (!options.listenPort) await releaseListenPort(port)
    },
  }
}
