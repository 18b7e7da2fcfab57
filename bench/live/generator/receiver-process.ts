// One generator process: holds its share of the SSE connections on raw sockets and counts what arrives.
// Forked by the coordinator (see receiver-pool.ts); everything it knows comes over IPC. Per read it does a
// handful of native Buffer searches (frame-scanner.ts) into one shared buffer: no stream machinery, no strings.
import net from 'node:net'
import { performance } from 'node:perf_hooks'
import { completeFramesEnd, createScanResult, scanFrames } from './frame-scanner.ts'
import { createHistogram, recordValue } from './histogram.ts'
import type { ChildMessage, ParentMessage, ReceiverConfig, ReceiverCounters } from './receiver-protocol.ts'

type Conn = { socket: net.Socket; carry: Buffer | null; state: 'pending' | 'open' | 'done' }

const HEADER_END = Buffer.from('\r\n\r\n')
const CONNECT_TIMEOUT_MS = 30_000

const counters: ReceiverCounters = {
  open: 0, pending: 0, failed: 0, dropped: 0, errors: {}, events: 0, plain: 0, likes: 0, bytes: 0, reads: 0,
}
let histogram = createHistogram()
const scan = createScanResult()
const readBuffer = Buffer.allocUnsafe(256 * 1024)
const conns: Conn[] = []
let stopping = false
let elu = performance.eventLoopUtilization()

function send(msg: ChildMessage): void {
  if (process.connected) process.send?.(msg)
}

function countError(reason: string): void {
  counters.errors[reason] = (counters.errors[reason] ?? 0) + 1
}

function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n)
}

function consumeBody(conn: Conn, data: Buffer): void {
  const cut = completeFramesEnd(data)
  if (cut > 0) {
    scanFrames(cut === data.length ? data : data.subarray(0, cut), 0, scan)
    counters.events += scan.events
    counters.plain += scan.plain
    counters.likes += scan.likes
    if (scan.stamps > 0) {
      const now = nowUs()
      for (let i = 0; i < scan.stamps; i++) recordValue(histogram, now - (scan.stampList[i] ?? now))
    }
  }
  // Keep the unfinished frame for the next read; a chunked-encoding trailer ("\r\n") alone is not worth it.
  const rest = data.length - cut
  if (rest === 0 || (rest === 2 && data[cut] === 0x0d && data[cut + 1] === 0x0a)) conn.carry = null
  else conn.carry = Buffer.from(data.subarray(cut))
}

function onRead(conn: Conn, nread: number, buf: Buffer): boolean {
  counters.reads++
  counters.bytes += nread
  let data = buf.subarray(0, nread)
  if (conn.carry) data = Buffer.concat([conn.carry, data])
  if (conn.state !== 'open') {
    if (conn.state === 'done') return false
    const h = data.indexOf(HEADER_END)
    if (h < 0) { conn.carry = Buffer.from(data); return true }
    counters.pending--
    conn.carry = null
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(data.subarray(0, Math.min(h, 64)).toString('latin1'))?.[1] ?? '???'
    if (status !== '200') {
      conn.state = 'done'
      counters.failed++
      countError(`http_${status}`)
      conn.socket.destroy()
      return false
    }
    conn.state = 'open'
    counters.open++
    data = data.subarray(h + HEADER_END.length)
  }
  consumeBody(conn, data)
  return true
}

/**
 * Local port per source address, assigned here rather than by the kernel: bind(addr, 0) searches the port
 * space for a free port and that search grows with every socket held (at 50k connections it costs more system
 * CPU than everything else). An explicit port is one hash lookup. Ports already taken (a 0.0.0.0 listener)
 * fail with EADDRINUSE and the connection is retried on the next port.
 */
const FIRST_LOCAL_PORT = 10_000
const LAST_LOCAL_PORT = 65_000
const nextPort = new Map<string, number>()

function takePort(address: string): number {
  const p = nextPort.get(address) ?? FIRST_LOCAL_PORT
  nextPort.set(address, p >= LAST_LOCAL_PORT ? FIRST_LOCAL_PORT : p + 1)
  return p
}

function openOne(config: ReceiverConfig, index: number, attempt = 0): void {
  const g = config.firstIndex + index
  const path = config.paths[g % config.paths.length] ?? '/'
  const localAddress = config.sourceAddresses[g % config.sourceAddresses.length]
  const conn: Conn = { socket: undefined as unknown as net.Socket, carry: null, state: 'pending' }
  counters.pending++
  const socket = net.connect({
    host: config.host, port: config.port, ...(localAddress ? { localAddress, localPort: takePort(localAddress) } : {}),
    onread: { buffer: readBuffer, callback: (nread: number, buf: Uint8Array) => onRead(conn, nread, buf as Buffer) },
  })
  conn.socket = socket
  conns.push(conn)
  const timer = setTimeout(() => { if (conn.state === 'pending') { countError('connect_timeout'); socket.destroy() } }, CONNECT_TIMEOUT_MS)
  timer.unref()
  socket.once('connect', () => {
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${config.host}:${config.port}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n${config.headers}\r\n`)
  })
  let retried = false
  socket.on('error', (err: NodeJS.ErrnoException) => {
    if (stopping) return
    if (err.code === 'EADDRINUSE' && conn.state === 'pending' && attempt < 50) { retried = true; return }
    countError(err.code ?? 'error')
  })
  socket.once('close', () => {
    clearTimeout(timer)
    if (retried) {
      counters.pending--
      conn.state = 'done'
      openOne(config, index, attempt + 1)
      return
    }
    if (conn.state === 'open') {
      counters.open--
      if (!stopping) { counters.dropped++; countError('closed') }
    } else if (conn.state === 'pending') {
      counters.pending--
      counters.failed++
    }
    conn.state = 'done'
    conn.carry = null
  })
}

/** Opens the connections at `connectRate`/s with at most `maxPending` unanswered at once. */
function openAll(config: ReceiverConfig): void {
  let next = 0
  const started = performance.now()
  const tick = (): void => {
    if (stopping) return
    const allowed = Math.floor(((performance.now() - started) / 1000) * config.connectRate) + 1
    while (next < config.connections && next < allowed && counters.pending < config.maxPending) openOne(config, next++)
    if (next < config.connections) setTimeout(tick, 5)
  }
  tick()
  const progress = setInterval(() => {
    send({ type: 'progress', counters })
    if (stopping) clearInterval(progress)
  }, 250)
  progress.unref()
}

function stopAll(): void {
  stopping = true
  // RST instead of FIN: no TIME_WAIT left on the source ports, so the next run can reuse them at once.
  for (const c of conns) if (!c.socket.destroyed) c.socket.resetAndDestroy()
  send({ type: 'stopped' })
  setTimeout(() => process.exit(0), 50)
}

process.on('message', (msg: ParentMessage) => {
  if (msg.type === 'start') openAll(msg.config)
  else if (msg.type === 'snapshot') {
    const now = performance.eventLoopUtilization()
    const delta = performance.eventLoopUtilization(now, elu)
    elu = now
    send({ type: 'snapshot', id: msg.id, counters, histogram: Array.from(histogram), eventLoopUtilization: delta.utilization })
    if (msg.resetHistogram) histogram = createHistogram()
  } else if (msg.type === 'stop') stopAll()
})
// The coordinator is gone (crashed, killed): never outlive it holding thousands of sockets.
process.on('disconnect', () => { stopping = true; process.exit(0) })
