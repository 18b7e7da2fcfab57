// One TCP connection of the native engine wired to a bittorrent-protocol Wire, without the Wire's stream machinery:
// bytes in go straight to the Wire's parser (behind its guard), what the Wire sends goes straight to the socket.
import net from 'node:net'
import { MAX_MESSAGE, type PeerWire, type WireConstructor } from './peer.ts'
import { WireFeeder } from './wire/wire-feeder.ts'
import type { PieceBufferPool } from './pieces/piece-buffers.ts'
import { encryptedFeed } from './wire/mse-wire.ts'
import { guardWire, type ProtocolErrorReason, type WireGuard } from './wire/wire-guard.ts'

const noop = (): void => undefined

/** Where a connection's bytes go: set once the connection knows what it speaks. */
export type ByteSink = { feed: (bytes: Uint8Array) => void }

export type ConnectionContext = {
  Wire: WireConstructor
  buffers: PieceBufferPool
  /** Every connection's socket while it is open (the engine closes them all when it closes). */
  sockets: Set<net.Socket>
  /** Time to complete the BitTorrent handshake. */
  handshakeTimeoutMs: number
  /** `peer` (ip:port) broke the protocol; its connection is being closed. */
  protocolError: (reason: ProtocolErrorReason, peer: string, err?: unknown) => void
}

export type Connection = { wire: PeerWire; guard: WireGuard }

/**
 * net.Server cannot give accepted sockets the `onread` option (only `new net.Socket` takes it), so the accepted
 * socket's handle moves to a new Socket that has it, and the server's connection count follows it (server.close
 * waits for that count). The fallback, if a Node version lacks these internals, is the accepted socket itself with
 * 'data' events: slower, not wrong.
 */
export function adoptWithOnread(server: net.Server, accepted: net.Socket, onread: net.OnReadOpts): net.Socket {
  type Internals = { _handle?: object | null; _server?: net.Server | null; server?: net.Server | null }
  const old = accepted as unknown as Internals
  if (!old._handle || old._server !== server) {
    accepted.on('data', (chunk: Buffer) => { onread.callback(chunk.length, chunk) })
    accepted.resume()
    return accepted
  }
  const handle = old._handle
  old._handle = null
  old._server = null
  old.server = null
  const socket = new net.Socket({ handle, readable: true, writable: true, onread } as net.SocketConstructorOpts)
  const adopted = socket as unknown as Internals
  adopted._server = server
  adopted.server = server
  return socket
}

/**
 * Wires `socket` to a new Wire. Bytes in go straight to the Wire's parser, and what the Wire sends goes straight
 * to the socket, corked for the rest of the tick (a block's header and body, a batch of HAVEs leave in one
 * writev). In a 16-agent mesh the streams' per-chunk scheduling, and a write and a wake-up per message, were most
 * of the engine's CPU. Whatever the peer sends that the guard refuses, or that makes the Wire throw, closes this
 * connection and is reported once through `ctx.protocolError`; so does a message the parser would have to buffer
 * beyond MAX_MESSAGE. `pe`: the connection opened with the MSE/PE handshake.
 */
export function wireUp(ctx: ConnectionContext, socket: net.Socket, sink: ByteSink, type: string, address: string, pe = false): Connection {
  const wire = new ctx.Wire(type, 0, pe)
  wire._debug = noop
  ctx.sockets.add(socket)
  socket.setNoDelay(true)
  socket.on('error', () => socket.destroy())
  socket.once('close', () => { ctx.sockets.delete(socket); wire.destroy() })
  wire.on('error', () => socket.destroy())
  let failed = false
  const fail = (reason?: ProtocolErrorReason, err?: unknown): void => {
    if (!failed && !socket.destroyed && reason) ctx.protocolError(reason, address, err)
    failed = true
    socket.destroy()
  }
  const guard = guardWire(wire, fail)
  let corked = false
  const uncork = (): void => { corked = false; socket.uncork() }
  wire.push = (chunk: Uint8Array | null): boolean => {
    if (socket.destroyed) return false
    if (chunk === null) { socket.end(); return false }
    if (!corked) { corked = true; socket.cork(); process.nextTick(uncork) }
    // A block of a pooled piece buffer stays held until the socket is done with it (or fails).
    const release = ctx.buffers.hold(chunk)
    if (release) socket.write(chunk, () => release())
    else socket.write(chunk)
    return true
  }
  if (pe) {
    // MSE connections go through the Wire's own steps (mse-wire.ts), which decrypt and keep what they are given: a copy.
    const feed = encryptedFeed(wire, fail)
    sink.feed = (bytes) => {
      if (socket.destroyed) return
      feed(Buffer.from(bytes))
      if (wire._bufferSize > MAX_MESSAGE) fail('length')
    }
  } else {
    const feeder = new WireFeeder(wire, fail)
    sink.feed = (bytes) => { if (!socket.destroyed) feeder.push(bytes) }
  }
  socket.once('end', () => wire.end())
  const timer = setTimeout(() => { if (!wire.peerId) socket.destroy() }, ctx.handshakeTimeoutMs)
  timer.unref()
  wire.once('handshake', () => clearTimeout(timer))
  return { wire, guard }
}
