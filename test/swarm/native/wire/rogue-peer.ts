// A peer that claims every piece and answers every request with random bytes, announced to a tracker.
import { randomBytes } from 'node:crypto'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import Wire from 'bittorrent-protocol'
import { Client } from 'bittorrent-tracker'


export type RoguePeer = {
  port: number
  /** Block requests answered with garbage. */
  requests: number
  /** Connections that were closed on us (a ban shows up as these). */
  connections: number
  close(): Promise<void>
}

export async function startRoguePeer(options: { infoHash: string; pieces: number; announce: string[] }): Promise<RoguePeer> {
  const peerId = randomBytes(20).toString('hex')
  const sockets = new Set<net.Socket>()
  const state = { port: 0, requests: 0, connections: 0, close: async () => undefined as void }
  const server = net.createServer((socket) => {
    sockets.add(socket)
    state.connections++
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    const wire = new Wire('tcpIncoming')
    wire.on('error', () => undefined)
    socket.pipe(wire as unknown as NodeJS.WritableStream)
    wire.pipe(socket)
    wire.on('handshake', (infoHash: string) => {
      wire.handshake(infoHash, peerId)
      const bits = new Uint8Array(Math.ceil(options.pieces / 8))
      for (let i = 0; i < options.pieces; i++) bits[i >> 3] = (bits[i >> 3] ?? 0) | (0x80 >> (i % 8))
      wire.bitfield(bits)
      wire.unchoke()
    })
    wire.on('interested', () => wire.unchoke())
    wire.on('request', (_i: number, _off: number, length: number, respond: (err: Error | null, b?: Uint8Array) => void) => {
      state.requests++
      respond(null, randomBytes(length))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  state.port = (server.address() as AddressInfo).port
  const client = new Client({ infoHash: options.infoHash, peerId, announce: options.announce, port: state.port })
  client.on('error', () => undefined)
  client.on('warning', () => undefined)
  const announced = new Promise<void>((resolve) => client.once('update', () => resolve()))
  client.start()
  await announced
  state.close = async () => {
    await new Promise<void>((resolve) => client.destroy(() => resolve()))
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  return state
}
