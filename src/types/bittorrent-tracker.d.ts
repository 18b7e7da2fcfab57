// bittorrent-tracker ships no types: the slice of its Server (colony's tracker wrapper, which owns the sockets and
// feeds the Server requests) that colony uses, and of its announce client, which only the tests use (the native
// engine announces with its own client, announce-client.ts: the package's client imports WebRTC code).
declare module 'bittorrent-tracker' {
  import type { RemoteInfo, Socket } from 'node:dgram'
  import type { EventEmitter } from 'node:events'
  import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http'

  export type ClientOptions = {
    infoHash: string
    peerId: string
    announce: string[]
    port: number
    /** Counters sent with each announce. @defaultValue none (zeros) */
    getAnnounceOpts?: () => { uploaded: number; downloaded: number; left: number }
  }

  /** Announces one torrent to its trackers and reports the peers they return. */
  export default class Client extends EventEmitter {
    constructor(options: ClientOptions)
    on(event: 'peer', fn: (address: string) => void): this
    on(event: 'error' | 'warning', fn: (err: Error) => void): this
    on(event: 'update', fn: (data: unknown) => void): this
    start(): void
    update(): void
    complete(): void
    stop(): void
    destroy(cb?: () => void): void
  }
  export { Client }

  /** One swarm as the Server keeps it: seeder/leecher counts and an LRU of peers. */
  export type TrackerSwarm = {
    complete: number
    incomplete: number
    peers: { keys: string[] }
  }

  /** What an announce event carries (the parsed request). */
  export type AnnounceParams = { type?: string; info_hash?: string; left?: number; event?: string }

  export type ServerOptions = {
    interval: number
    http: boolean
    udp: boolean
    ws: boolean
    stats: boolean
    trustProxy?: boolean
    peersCacheTtl?: number
  }

  /** The tracker protocol, with its transports turned off by the options colony passes. */
  export class Server extends EventEmitter {
    constructor(options: ServerOptions)
    torrents: Record<string, TrackerSwarm | undefined>
    udp4: Socket | null
    udp6: Socket | null
    onHttpRequest(req: IncomingMessage, res: ServerResponse): void
    onUdpRequest(msg: Buffer, rinfo: RemoteInfo): void
    close(cb?: () => void): void
    /** The Server's own listeners (tests run the stock tracker with `http: true`). */
    http: HttpServer | null
    listen(port: number, host: string, cb: () => void): void
  }
}

// The Server alone: the package's main module loads its announce client too, and with it WebRTC code.
declare module 'bittorrent-tracker/server' {
  import { Server } from 'bittorrent-tracker'
  export default Server
  export type { AnnounceParams, ServerOptions, TrackerSwarm } from 'bittorrent-tracker'
}
