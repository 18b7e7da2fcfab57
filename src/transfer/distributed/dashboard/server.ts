// The live dashboard: one poll loop per server reads only classes whose version moved, diffs their
// bitmaps against the last copy and pushes the changed byte span as hex over SSE to every page.
// A page gets one snapshot on connect (finished classes as a single number, not a bitmap), then diffs.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createMetricsRegistry, Gauge } from '../../../shared/metrics.ts'
import { handleOpsRequest, listen, sendJson } from '../../../shared/http-ops.ts'
import { delay } from '../../../shared/backoff.ts'
import { createKeys } from '../redis/keys.ts'
import { closeRedis, createRedis } from '../redis/client.ts'
import { listWorkers, readQueues } from '../status.ts'
import { DASHBOARD_PAGE } from './page.ts'
import { FINISHED_STATES, type ClassRecord, type DashboardClass, type DashboardSummary } from '../../wire-format.ts'
import { TRANSFER_DEFAULTS } from '../../defaults.ts'
import { readRunMeta, readRunStats } from '../redis/run-state.ts'

export type DashboardOptions = {
  redisUrl: string
  /** Key prefix. @defaultValue TRANSFER_DEFAULTS.distributed.prefix */
  prefix?: string
  /** Run shown. @defaultValue the most recently created active run (else the most recent run) */
  run?: string
  /** Bind address. @defaultValue TRANSFER_DEFAULTS.dashboard.host */
  host?: string
  /** Port (0 = any free port). @defaultValue TRANSFER_DEFAULTS.dashboard.port */
  port?: number
  /** Poll period. @defaultValue TRANSFER_DEFAULTS.dashboard.intervalMs */
  intervalMs?: number
  /** Event streams per client address. @defaultValue TRANSFER_DEFAULTS.dashboard.maxStreamsPerIp */
  maxStreamsPerIp?: number
  /** Event streams in all. @defaultValue TRANSFER_DEFAULTS.dashboard.maxStreams */
  maxStreams?: number
}

type ClassView = { id: string; n: number; state: string; live: boolean; done: Buffer; fail: Buffer; version: string }

/** The smallest byte span where `a` and `b` differ (b may be longer), or undefined when equal. */
export function diffSpan(a: Buffer, b: Buffer): { offset: number; bytes: Buffer } | undefined {
  const len = Math.max(a.length, b.length)
  let lo = 0
  while (lo < len && (a[lo] ?? 0) === (b[lo] ?? 0)) lo++
  if (lo === len) return undefined
  let hi = len - 1
  while (hi > lo && (a[hi] ?? 0) === (b[hi] ?? 0)) hi--
  const out = Buffer.alloc(hi - lo + 1)
  for (let i = lo; i <= hi; i++) out[i - lo] = b[i] ?? 0
  return { offset: lo, bytes: out }
}

export async function startDashboard(options: DashboardOptions): Promise<{ url: string; close: () => Promise<void> }> {
  const redis = createRedis(options.redisUrl, { name: 'colony-transfer-dashboard' })
  const keys = createKeys(options.prefix ?? TRANSFER_DEFAULTS.distributed.prefix)
  const registry = createMetricsRegistry()
  const clientsGauge = new Gauge({ name: 'colony_transfer_dashboard_clients', help: 'Open dashboard event streams', registers: [registry] })
  const clients = new Set<ServerResponse>()
  const views = new Map<string, ClassView>()
  let run: string | undefined = options.run
  let summary: DashboardSummary = { run: null }
  let lastRate: { at: number; files: number; rate: number } | undefined
  const abort = new AbortController()

  const send = (res: ServerResponse, event: string, data: unknown): void => { res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`) }
  const limits = TRANSFER_DEFAULTS.dashboard
  const streamsPerIp = new Map<string, number>()
  const dropSlow = (res: ServerResponse): void => { if (res.writableLength > limits.maxUnsentBytes) res.destroy() }
  const broadcast = (event: string, data: unknown): void => { for (const c of clients) { send(c, event, data); dropSlow(c) } }
  const viewJson = (v: ClassView): DashboardClass => {
    // A verified or skipped class is one line on the page: its bitmap is not worth sending.
    const collapsed = (v.state === 'verified' || v.state === 'skipped') && !v.live
    return { id: v.id, n: v.n, state: v.state, live: v.live, full: true, ...(collapsed ? {} : { o: 0, h: v.done.toString('hex'), fo: 0, fh: v.fail.toString('hex') }) }
  }

  const pickRun = async (): Promise<string | undefined> => {
    if (options.run) return options.run
    const names = await redis.smembers(keys.active)
    const pool = names.length ? names : await redis.smembers(keys.runs)
    let best: { r: string; at: string } | undefined
    for (const r of pool) {
      const at = (await redis.hget(keys.meta(r), 'createdAt')) ?? ''
      if (!best || at > best.at) best = { r, at }
    }
    return best?.r
  }

  const poll = async (): Promise<void> => {
    const r = await pickRun()
    if (r !== run) { run = r; views.clear(); if (r) broadcast('reset', { run: r }) }
    if (!run) { summary = { run: null }; broadcast('summary', summary); return }
    const [versions, counts, stats, meta] = await Promise.all([redis.hgetall(keys.version(run)), redis.hgetall(keys.count(run)), readRunStats(redis, keys, run), readRunMeta(redis, keys, run)])
    const moved = Object.entries(versions).filter(([id, v]) => views.get(id)?.version !== v).map(([id]) => id)
    const diffs: DashboardClass[] = []
    for (let k = 0; k < moved.length; k += 200) {
      const ids = moved.slice(k, k + 200)
      const recs = await redis.hmget(keys.classes(run), ...ids)
      const pipe = redis.pipeline()
      for (const id of ids) pipe.getBuffer(keys.done(run, id)).getBuffer(keys.failed(run, id))
      const res = (await pipe.exec()) ?? []
      ids.forEach((id, n) => {
        const raw = recs[n]
        if (!raw) return
        const rec = JSON.parse(raw) as ClassRecord
        const done = (res[2 * n]?.[1] as Buffer | null) ?? Buffer.alloc(0)
        const fail = (res[2 * n + 1]?.[1] as Buffer | null) ?? Buffer.alloc(0)
        const prev = views.get(id)
        const view: ClassView = { id, n: Number(counts[id] ?? 0), state: rec.state, live: rec.live === true, done, fail, version: versions[id] ?? '0' }
        views.set(id, view)
        if (!prev) { diffs.push(viewJson(view)); return }
        const d: DashboardClass = { id, n: view.n, state: view.state, live: view.live }
        const dd = diffSpan(prev.done, done)
        const fd = diffSpan(prev.fail, fail)
        if (dd) { d.o = dd.offset; d.h = dd.bytes.toString('hex') }
        if (fd) { d.fo = fd.offset; d.fh = fd.bytes.toString('hex') }
        if (dd || fd || prev.state !== view.state || prev.n !== view.n || prev.live !== view.live) diffs.push(d)
      })
    }
    let files = 0
    let verified = 0
    let failed = 0
    let finished = 0
    for (const v of views.values()) {
      files += v.n
      if (FINISHED_STATES.has(v.state as ClassRecord['state']) && !v.live) finished++
    }
    verified = Number(stats.files ?? 0)
    failed = Number(stats.failed ?? 0)
    const now = Date.now()
    let rate = lastRate?.rate ?? 0
    if (lastRate && now - lastRate.at >= 400) rate = 0.6 * rate + 0.4 * (((verified - lastRate.files) * 1000) / (now - lastRate.at))
    if (!lastRate || now - lastRate.at >= 400) lastRate = { at: now, files: verified, rate }
    const left = Math.max(0, files - verified - failed)
    const [queues, workers] = await Promise.all([readQueues(redis, keys), listWorkers(redis, keys)])
    summary = {
      run, state: meta.state ?? 'running', classes: views.size, finishedClasses: finished, files, verified, failed,
      bytes: Number(stats.bytes ?? 0), retries: Number(stats.retries ?? 0), rate: Math.max(0, Math.round(rate)),
      etaMs: rate > 0 ? Math.round((left / rate) * 1000) : null, queues, workers: workers.length, at: now,
    }
    if (diffs.length) broadcast('classes', diffs)
    broadcast('summary', summary)
  }

  const loop = (async () => {
    while (!abort.signal.aborted) {
      try { await poll() } catch { /* Redis restarting: next tick */ }
      try { await delay(options.intervalMs ?? TRANSFER_DEFAULTS.dashboard.intervalMs, abort.signal) } catch { break }
    }
  })()

  const onEvents = (req: IncomingMessage, res: ServerResponse): void => {
    const ip = req.socket.remoteAddress ?? '?'
    const mine = streamsPerIp.get(ip) ?? 0
    if (mine >= (options.maxStreamsPerIp ?? limits.maxStreamsPerIp) || clients.size >= (options.maxStreams ?? limits.maxStreams)) {
      res.setHeader('retry-after', '5')
      sendJson(res, 429, { error: { code: 'TRANSFER_DIST_TOO_MANY_STREAMS', message: 'too many open event streams' } })
      return
    }
    streamsPerIp.set(ip, mine + 1)
    req.on('close', () => { const n = (streamsPerIp.get(ip) ?? 1) - 1; if (n > 0) streamsPerIp.set(ip, n); else streamsPerIp.delete(ip) })
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' })
    res.write('retry: 2000\n\n')
    send(res, 'reset', { run: run ?? null })
    const all = [...views.values()].sort((a, b) => a.id.localeCompare(b.id)).map(viewJson)
    for (let k = 0; k < all.length; k += 500) send(res, 'classes', all.slice(k, k + 500))
    send(res, 'summary', summary)
    clients.add(res)
    clientsGauge.set(clients.size)
    req.on('close', () => { clients.delete(res); clientsGauge.set(clients.size) })
  }

  // Node checks the head and request deadlines every connectionsCheckingInterval: once a second keeps them close.
  const server = createServer({ headersTimeout: limits.requestTimeoutMs, requestTimeout: limits.requestTimeoutMs, connectionsCheckingInterval: 1_000 }, (req, res) => {
    void (async () => {
      if (await handleOpsRequest(req, res, { registry, health: () => ({ redis: redis.status, run: run ?? null }) })) return
      const path = (req.url ?? '/').split('?')[0]
      if (req.method === 'GET' && path === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
        res.end(DASHBOARD_PAGE)
      } else if (req.method === 'GET' && path === '/events') {
        onEvents(req, res)
      } else if (req.method === 'GET' && path === '/api/summary') {
        sendJson(res, 200, summary)
      } else {
        sendJson(res, 404, { error: { code: 'COLONY_NOT_FOUND', message: 'not found' } })
      }
    })().catch(() => { if (!res.headersSent) sendJson(res, 500, { error: { code: 'COLONY_INTERNAL', message: 'internal error' } }) })
  })
  const url = await listen(server, { host: options.host ?? TRANSFER_DEFAULTS.dashboard.host, port: options.port ?? TRANSFER_DEFAULTS.dashboard.port })
  return {
    url,
    close: async () => {
      abort.abort()
      await loop
      for (const c of clients) c.end()
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
      await closeRedis(redis)
    },
  }
}
