// One UDP tracker (BEP 15): connect, then announce with the connection id, which is reused for 60 s. Each request
// is retransmitted with a doubling (bounded) delay until the announce's deadline; replies are matched by
// transaction id and action, and anything else the socket receives is ignored. Each announce has its own socket,
// connected to the tracker, closed when the announce ends: no socket is held between announces.
import { randomBytes } from 'node:crypto'
import dgram from 'node:dgram'
import { lookup } from 'node:dns/promises'
import { AnnounceError, compactPeers4, compactPeers6, printable, type AnnounceAnswer, type AnnounceEvent, type AnnounceRequest } from './announce-peers.ts'

const PROTOCOL_ID = 0x41727101980n
const CONNECT = 0
const ANNOUNCE = 1
const ERROR = 3
/** How long a connection id may be used (BEP 15: one minute). */
const CONNECTION_TTL_MS = 60_000
/** The retransmission delay doubles up to this many times the first one. */
const MAX_BACKOFF_FACTOR = 8
const EVENT_IDS: Record<AnnounceEvent, number> = { completed: 1, started: 2, stopped: 3 }

const counter = (n: number): bigint => BigInt(Math.max(0, Math.floor(n)))

export class UdpTracker {
  readonly #host: string
  readonly #port: number
  readonly #retransmitMs: number
  #connection: { id: Buffer; at: number } | undefined

  /** Throws AnnounceError if `url` names no host and port. */
  constructor(url: string, retransmitMs: number) {
    const u = new URL(url)
    const port = Number(u.port)
    if (!u.hostname || !(port > 0 && port < 65536)) throw new AnnounceError(`bad UDP tracker URL ${url}`)
    this.#host = u.hostname.replace(/^\[(.*)\]$/, '$1')
    this.#port = port
    this.#retransmitMs = retransmitMs
  }

  async announce(r: AnnounceRequest): Promise<AnnounceAnswer> {
    const { address, family } = await lookup(this.#host)
    const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4')
    // Errors (a refused port) end the exchange in progress; this listener keeps one from going unhandled between.
    socket.on('error', () => undefined)
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve)
        socket.once('error', reject)
        socket.connect(this.#port, address)
      })
      const connectionId = await this.#connectionId(socket, r.signal)
      const tid = randomBytes(4)
      const msg = Buffer.alloc(98)
      connectionId.copy(msg, 0)
      msg.writeUInt32BE(ANNOUNCE, 8)
      tid.copy(msg, 12)
      r.infoHash.copy(msg, 16)
      r.peerId.copy(msg, 36)
      msg.writeBigUInt64BE(counter(r.downloaded), 56)
      msg.writeBigUInt64BE(counter(r.left), 64)
      msg.writeBigUInt64BE(counter(r.uploaded), 72)
      msg.writeUInt32BE(r.event ? EVENT_IDS[r.event] : 0, 80)
      msg.writeUInt32BE(0, 84) // ip: the sender's
      msg.writeUInt32BE(r.key >>> 0, 88)
      msg.writeInt32BE(r.numwant, 92)
      msg.writeUInt16BE(r.port, 96)
      let reply: Buffer
      try { reply = await this.#exchange(socket, msg, tid, ANNOUNCE, 20, r.signal) } catch (err) {
        this.#connection = undefined
        throw err
      }
      const peers = reply.subarray(20)
      return { peers: family === 6 ? compactPeers6(peers) : compactPeers4(peers), interval: reply.readUInt32BE(8), minInterval: undefined }
    } finally {
      try { socket.close() } catch { /* closed already */ }
    }
  }

  async #connectionId(socket: dgram.Socket, signal: AbortSignal): Promise<Buffer> {
    const c = this.#connection
    if (c && Date.now() - c.at < CONNECTION_TTL_MS) return c.id
    const tid = randomBytes(4)
    const msg = Buffer.alloc(16)
    msg.writeBigUInt64BE(PROTOCOL_ID, 0)
    msg.writeUInt32BE(CONNECT, 8)
    tid.copy(msg, 12)
    const reply = await this.#exchange(socket, msg, tid, CONNECT, 16, signal)
    const id = Buffer.from(reply.subarray(8, 16))
    this.#connection = { id, at: Date.now() }
    return id
  }

  /** Sends `msg` until a reply with transaction id `tid` and `action` (at least `minLength` bytes) arrives. */
  #exchange(socket: dgram.Socket, msg: Buffer, tid: Buffer, action: number, minLength: number, signal: AbortSignal): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      let delay = this.#retransmitMs
      let timer: NodeJS.Timeout | undefined
      const finish = (err: unknown, reply?: Buffer): void => {
        clearTimeout(timer)
        socket.off('message', onMessage)
        socket.off('error', finish)
        signal.removeEventListener('abort', onAbort)
        if (reply) resolve(reply)
        else reject(err instanceof Error ? err : new AnnounceError(String(err)))
      }
      const onAbort = (): void => finish(new AnnounceError(`no answer from udp://${this.#host}:${this.#port} in time`))
      const onMessage = (m: Buffer): void => {
        if (m.length < 8 || !m.subarray(4, 8).equals(tid)) return
        const got = m.readUInt32BE(0)
        if (got === ERROR) finish(new AnnounceError(`tracker error: ${printable(m.subarray(8))}`))
        else if (got !== action || m.length < minLength) finish(new AnnounceError(`malformed UDP reply (action ${got}, ${m.length} bytes)`))
        else finish(undefined, m)
      }
      const send = (): void => {
        socket.send(msg, (err) => { if (err) finish(err) })
        timer = setTimeout(send, delay)
        delay = Math.min(delay * 2, this.#retransmitMs * MAX_BACKOFF_FACTOR)
      }
      if (signal.aborted) { onAbort(); return }
      socket.on('message', onMessage)
      socket.on('error', finish)
      signal.addEventListener('abort', onAbort)
      send()
    })
  }
}
