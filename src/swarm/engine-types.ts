// The slice of webtorrent and parse-torrent (both untyped) that the agent drives.
import type { EventEmitter } from 'node:events'

/** bittorrent-protocol's Wire: one connection to one peer. */
export interface Wire extends EventEmitter {
  peerId: string
  remoteAddress?: string
  remotePort?: number
  type: string
  amInterested: boolean
  peerChoking: boolean
  /** Our outstanding block requests on this wire. */
  requests: unknown[]
  destroy(): void
}

/** webtorrent's Torrent, the fields the agent reads. */
export interface Torrent extends EventEmitter {
  infoHash: string
  name: string
  length: number
  pieceLength: number
  lastPieceLength: number
  pieces: unknown[]
  /** Verified pieces (null before metadata). */
  bitfield: { get(index: number): boolean } | null
  torrentFile: Uint8Array
  path: string
  ready: boolean
  done: boolean
  destroyed: boolean
  paused: boolean
  /** Verified bytes (what is on disk and checked). */
  downloaded: number
  /** Bytes received from peers, including any that failed verification. */
  received: number
  uploaded: number
  downloadSpeed: number
  uploadSpeed: number
  progress: number
  numPeers: number
  wires: Wire[]
  addPeer(peer: string, source?: string): boolean
  removePeer(id: string): void
  select(start: number, end: number, priority?: number): void
  critical(start: number, end: number): void
  destroy(opts?: { destroyStore?: boolean }, cb?: (err?: Error | null) => void): void
}

export type AddTorrentOptions = {
  path: string
  announce?: string[]
  skipVerify?: boolean
  strategy?: 'rarest' | 'sequential'
  /** Start with no piece selected (the caller selects). */
  deselect?: boolean
  /** Unchoke slots per torrent. */
  uploads?: number
  storeCacheSlots?: number
}

export type WebTorrentOptions = {
  torrentPort?: number
  dht: boolean
  lsd: boolean
  utp: boolean
  utPex?: boolean
  natUpnp: boolean
  natPmp: boolean
  webSeeds: boolean
  maxConns?: number
  uploadLimit?: number
  downloadLimit?: number
  tracker?: Record<string, unknown> | false
}

export interface WebTorrentClient extends EventEmitter {
  torrents: Torrent[]
  torrentPort: number
  listening: boolean
  peerId: string
  add(torrentId: Uint8Array, opts: AddTorrentOptions, ontorrent?: (t: Torrent) => void): Torrent
  throttleUpload(rate: number): void
  throttleDownload(rate: number): void
  address(): { port: number } | null
  destroy(cb?: (err?: Error | null) => void): void
}

export type WebTorrentConstructor = new (options: WebTorrentOptions) => WebTorrentClient

/** What parse-torrent returns for a .torrent buffer. */
export type ParsedTorrent = {
  infoHash: string
  name: string
  length: number
  pieceLength: number
  lastPieceLength: number
  pieces: string[]
  announce: string[]
  files: { path: string; name: string; length: number; offset: number }[]
}

export type ParseTorrentModule = {
  default: (input: Uint8Array) => Promise<ParsedTorrent>
  toTorrentFile: (parsed: { info: Record<string, unknown>; announce?: string[]; urlList?: string[]; created?: Date; createdBy?: string; comment?: string }) => Uint8Array
}

/**
 * Neither package ships types; loading them through a non-literal specifier keeps one narrow local
 * description of the API instead of an ambient `declare module` that could collide with another one.
 */
export async function loadWebTorrent(): Promise<WebTorrentConstructor> {
  const specifier = 'webtorrent'
  const mod = (await import(specifier)) as { default: WebTorrentConstructor }
  return mod.default
}

export async function loadParseTorrent(): Promise<ParseTorrentModule> {
  const specifier = 'parse-torrent'
  return (await import(specifier)) as ParseTorrentModule
}
