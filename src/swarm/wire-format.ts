// Every format of the swarm subsystem that crosses a process boundary, in one place:
//   1. the etcd index: keys under the fleet's prefix and their values;
//   2. what agents write into the torrents they build, which other agents parse;
//   3. the agent's REST API bodies (JSON);
//   4. the files an agent keeps in its data directory for its next start.
// BitTorrent itself (peer wire, tracker announces) is the standard protocol, with nothing added; colony's agents
// only pick their peer ids with PEER_ID_PREFIX. Changing anything here breaks a fleet that mixes versions.
import type { SegmentLayout } from './agent/segments.ts'
import { SwarmError } from './errors.ts'

// ── 1. etcd index ────────────────────────────────────────────────────────────────────────────────────────────
//
// | key (under --etcd-prefix, default colony/swarm/) | value                                                        |
// |--------------------------------------------------|--------------------------------------------------------------|
// | torrents/<key>                                   | the whole-object .torrent (bencoded bytes)                   |
// | parts/<key>/<part, 6 digits>                     | segment <part>'s .torrent (bencoded bytes)                   |
// | election/elect/<key>/<lease id>                  | a candidate's agent id (etcd3's Election: one per campaign)  |
// | warmup/<agent id>-<8 hex>                        | 'warm'; start-up only, deleted before the warm-up returns    |
// | peers/<key>/<agent id>                           | IndexPeer JSON {"address":"host:port","peerId":"40 hex"},    |
// |                                                  | under a lease: an agent serving (or fetching) the object     |
//
// <key> is sha256(url ⏎ validator ⏎ length) in hex (origin/probe.ts keyOf). A torrent under torrents/<key> is
// published once, by the elected leader, after it started seeding it.

/** The etcd keys of the index, relative to the fleet's prefix. */
export const INDEX_KEYS = {
  /** The whole-object torrent of `key`. */
  torrent: (key: string): string => `torrents/${key}`,
  /** Every segment torrent of `key` lives under this prefix. */
  partPrefix: (key: string): string => `parts/${key}/`,
  /** Segment `part`'s torrent: zero-padded so the keys sort in segment order. */
  part: (key: string, part: number): string => `parts/${key}/${String(part).padStart(6, '0')}`,
  /** The segment number of a key under partPrefix. */
  partOf: (indexKey: string): number => Number(indexKey.slice(indexKey.lastIndexOf('/') + 1)),
  /** The election (etcd3 Election name) deciding who fetches `key` from the origin. */
  election: (key: string): string => `elect/${key}`,
  /** Every agent serving `key` registers its BitTorrent address under this prefix. */
  peerPrefix: (key: string): string => `peers/${key}/`,
  /** Agent `agentId`'s entry for `key`. */
  peer: (key: string, agentId: string): string => `peers/${key}/${encodeURIComponent(agentId)}`,
  /** The private key the start-up warm-up campaigns and watches on. */
  warmUp: (candidate: string, nonce: string): string => `warmup/${candidate}-${nonce}`,
} as const

/**
 * An agent's BitTorrent address for one object, as the index keeps it: peers find each other there when no tracker
 * answers. `peerId` lets the engine skip an agent it is already connected to under another address.
 */
export type IndexPeer = { address: string; peerId: string }

const PEER_ADDRESS = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253}):(\d{1,5})$/
const PEER_ID = /^[0-9a-f]{40}$/

/** The index value of `peer`. */
export function formatIndexPeer(peer: IndexPeer): string {
  return JSON.stringify({ address: peer.address, peerId: peer.peerId })
}

/** Reads an index peer value (untrusted: another agent, or anyone with write access to etcd); undefined if malformed. */
export function parseIndexPeer(value: string | Buffer): IndexPeer | undefined {
  let v: unknown
  try { v = JSON.parse(value.toString()) } catch { return undefined }
  if (typeof v !== 'object' || v === null) return undefined
  const { address, peerId } = v as { address?: unknown; peerId?: unknown }
  if (typeof address !== 'string' || typeof peerId !== 'string' || !PEER_ID.test(peerId)) return undefined
  const m = PEER_ADDRESS.exec(address)
  const port = Number(m?.[1])
  return m && port > 0 && port < 65536 ? { address, peerId } : undefined
}

// ── 2. Torrents built by agents ──────────────────────────────────────────────────────────────────────────────
//
// Single-file v1 torrents, `private: 1`, created by 'colony swarm', `comment` = the origin URL, announce = the
// leader's trackers. The info dict's `source` makes two URLs with identical bytes differ in info hash:
//   whole object: source = colony:<first 16 hex of key>
//   segment:      source = colony:<first 16 hex of key>:part
// A segment's file name carries the layout, so a follower can place any segment it sees first:
//   <name>.part-<k>-of-<n>-<head>-<size>[-<taper>]
// k: segment number from 0; n: segments; head: bytes of segment 0; size: bytes of a middle segment; taper:
// halvings of the last segment's worth (omitted when 0).

export const TORRENT_CREATED_BY = 'colony swarm'

/** The info dict's `source` of the whole-object torrent (`part: true`: of a segment torrent). */
export function torrentSource(key: string, part = false): string {
  return `colony:${key.slice(0, 16)}${part ? ':part' : ''}`
}

/** The file name inside segment `part`'s torrent. */
export function partName(name: string, part: number, layout: Pick<SegmentLayout, 'count' | 'head' | 'size' | 'taper'>): string {
  return `${name}.part-${part}-of-${layout.count}-${layout.head}-${layout.size}${layout.taper ? `-${layout.taper}` : ''}`
}

export type PartNameFields = { base: string; part: number; count: number; head: number; size: number; taper: number }

/** Reads a segment's file name; undefined when it is not one or its numbers cannot describe a layout. */
export function parsePartName(name: string): PartNameFields | undefined {
  const m = /^(.+)\.part-(\d+)-of-(\d+)-(\d+)-(\d+)(?:-(\d{1,2}))?$/.exec(name)
  if (!m) return undefined
  const [part, count, head, size, taper] = [m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number) as [number, number, number, number, number]
  if (!(part < count) || count < 2 || !(head > 0) || !(size > 0) || head > size || !Number.isInteger(size / 2 ** taper)) return undefined
  return { base: m[1] as string, part, count, head, size, taper }
}

/** Peer id prefix of colony's native engine, '-CY0100-' in hex: agents recognise each other by it. */
export const PEER_ID_PREFIX = Buffer.from('-CY0100-').toString('hex')

// ── 3. REST API bodies ───────────────────────────────────────────────────────────────────────────────────────

export type DownloadState = 'probing' | 'waiting' | 'origin' | 'swarm' | 'seeding' | 'done' | 'failed' | 'cancelled'

/** One download: GET /v1/downloads/:id, and inside the other answers. */
export type DownloadInfo = {
  /** The first 16 hex of sha256(url): stable per URL on an agent. */
  id: string
  url: string
  state: DownloadState
  /** "leader" fetched it from the origin; "peer" got it from the swarm. */
  role?: 'leader' | 'peer'
  /** The object's SHA-256 once complete (the expected one before). */
  sha256?: string
  /** The index key (64 hex). */
  key?: string
  infoHash?: string
  name?: string
  length?: number
  bytes: {
    /** Verified bytes on disk. */
    done: number
    /** Bytes this agent fetched from the origin in this run. */
    fromOrigin: number
    /** Bytes received from peers in this run (including any that failed verification). */
    fromPeers: number
    /** Bytes found valid on disk at start (resumed). */
    resumed: number
    uploaded: number
  }
  /** Bytes per second. */
  rate: { down: number; up: number }
  peers: number
  bannedPeers: number
  seeding: boolean
  /** ISO 8601. */
  createdAt: string
  completedAt?: string
  error?: { code: string; message: string }
}

/** POST /v1/downloads request body. */
export type DownloadRequest = { url: string; sha256?: string }
/** POST /v1/downloads answer (202). */
export type DownloadStarted = { id: string; download: DownloadInfo }
/** GET /v1/downloads answer. */
export type DownloadList = { downloads: DownloadInfo[] }
/** DELETE /v1/downloads/:id answer. */
export type DownloadRemoved = { id: string; removed: true }
/** GET /healthz answer (besides `ok`). */
export type AgentHealth = { agentId: string; torrentPort: number; engine: string; index: string; downloads: number }
/** Every error answer. */
export type ErrorBody = { error: { code: string; message: string; details?: Record<string, unknown> } }

const REQUEST_SHAPE = 'body must be JSON {"url": "...", "sha256"?: "..."}'

/** Reads a POST /v1/downloads body; SWARM_BAD_REQUEST unless it is {"url": string, "sha256"?: string}. */
export function parseDownloadRequest(text: string): DownloadRequest {
  let body: { url?: unknown; sha256?: unknown }
  try { body = JSON.parse(text || '{}') as typeof body } catch { throw new SwarmError('SWARM_BAD_REQUEST', REQUEST_SHAPE) }
  if (typeof body !== 'object' || body === null || typeof body.url !== 'string') throw new SwarmError('SWARM_BAD_REQUEST', REQUEST_SHAPE)
  if (body.sha256 !== undefined && typeof body.sha256 !== 'string') throw new SwarmError('SWARM_BAD_REQUEST', 'sha256 must be a string')
  return body.sha256 === undefined ? { url: body.url } : { url: body.url, sha256: body.sha256 }
}

// ── 4. The data directory ────────────────────────────────────────────────────────────────────────────────────
//
// <data>/downloads/<id>.json         DownloadRecord: every download started, resumed at the next start
// <data>/objects/<key>/<name>        the object
// <data>/objects/<key>/object.torrent the whole-object torrent
// <data>/objects/<key>/complete.json CompleteMark: the object file is whole and verified
// <data>/objects/<key>/parts/        segment files (engines that cannot write in place) and part-<k>.torrent

export const DATA_LAYOUT = {
  recordsDir: 'downloads',
  objectsDir: 'objects',
  torrentFile: 'object.torrent',
  completeFile: 'complete.json',
  partsDir: 'parts',
  partTorrent: (part: number): string => `part-${part}.torrent`,
} as const

/** <data>/downloads/<id>.json */
export type DownloadRecord = { id: string; url: string; sha256?: string; createdAt: string }

/** <data>/objects/<key>/complete.json */
export type CompleteMark = { sha256?: string; role?: 'leader' | 'peer'; url?: string }
