// The slice of bittorrent-tracker's (untyped) Server that the tracker wrapper drives.
import type { EventEmitter } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { RemoteInfo, Socket } from 'node:dgram'

/** One swarm as bittorrent-tracker keeps it: seeder/leecher counts and an LRU of peers. */
export type TrackerSwarm = {
  complete: number
  incomplete: number
  peers: { keys: string[] }
}

/** What an announce event carries (the parsed request). */
export type AnnounceParams = { type?: string; info_hash?: string; left?: number; event?: string }

export type TrackerServerOptions = {
  interval: number
  http: boolean
  udp: boolean
  ws: boolean
  stats: boolean
  trustProxy: boolean
  peersCacheTtl?: number
}

/** bittorrent-tracker's Server with its transports turned off: colony owns the sockets and feeds it requests. */
export interface TrackerServer extends EventEmitter {
  torrents: Record<string, TrackerSwarm | undefined>
  udp4: Socket | null
  udp6: Socket | null
  onHttpRequest(req: IncomingMessage, res: ServerResponse): void
  onUdpRequest(msg: Buffer, rinfo: RemoteInfo): void
  close(cb?: () => void): void
}

export type TrackerServerConstructor = new (options: TrackerServerOptions) => TrackerServer

/**
 * bittorrent-tracker ships no types; loading it through a non-literal specifier keeps one local, narrow
 * description of the API here instead of an ambient `declare module` that could collide with another one.
 */
export async function loadTrackerServer(): Promise<TrackerServerConstructor> {
  const specifier = 'bittorrent-tracker'
  const mod = (await import(specifier)) as { Server: TrackerServerConstructor }
  return mod.Server
}
