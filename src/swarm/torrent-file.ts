// Builds the .torrent for an origin object from hashes computed while the bytes streamed in.
import { createHash, type Hash } from 'node:crypto'
import parseTorrent, { toTorrentFile, type ParsedTorrent } from 'parse-torrent'
import { SwarmError } from './errors.ts'

export type { ParsedTorrent } from 'parse-torrent'

const MIN_PIECE = 16 * 1024
const MAX_PIECE = 2 * 1024 * 1024
/** Pieces per object at most, unless that takes pieces over MAX_PIECE. */
const TARGET_PIECES = 512

/**
 * At most TARGET_PIECES pieces, a power of two between 16 KiB and 2 MiB (objects over 1 GiB get more pieces, not
 * larger ones: a piece being assembled is held whole in memory, two per peer). Much of an agent's CPU goes per
 * piece rather than per byte — a HAVE to and from every peer, a hash call, a write, a pick, super-seeding's reveal
 * — so 128 MB in 256 KiB pieces cost less than in 128 KiB ones (docs/benchmarks/swarm.md). Any BitTorrent client
 * takes any power-of-two piece length: the length is the torrent's, aria2c and transmission join as before.
 */
export function choosePieceLength(length: number): number {
  let p = MIN_PIECE
  while (p < MAX_PIECE && length / p > TARGET_PIECES) p *= 2
  return p
}

/** SHA-1 per piece (what BitTorrent verifies) and SHA-256 of the whole object (what callers check), in one pass. */
export class PieceHasher {
  readonly pieceLength: number
  #pieces: Buffer[] = []
  #whole: Hash | undefined
  #current: Hash = createHash('sha1')
  #inPiece = 0
  #total = 0
  readonly #sha256: boolean

  /** `sha256: false`: piece hashes only (a segment's; the object's digest is taken across segments). */
  constructor(pieceLength: number, opts: { sha256?: boolean } = {}) {
    this.pieceLength = pieceLength
    this.#sha256 = opts.sha256 !== false
    this.#whole = this.#sha256 ? createHash('sha256') : undefined
  }

  get bytes(): number { return this.#total }

  /** Forget everything (the origin ignored our Range and sends the object from byte 0). */
  reset(): void {
    this.#pieces = []
    this.#whole = this.#sha256 ? createHash('sha256') : undefined
    this.#current = createHash('sha1')
    this.#inPiece = 0
    this.#total = 0
  }

  update(chunk: Uint8Array): void {
    this.#whole?.update(chunk)
    let off = 0
    while (off < chunk.length) {
      const take = Math.min(this.pieceLength - this.#inPiece, chunk.length - off)
      this.#current.update(chunk.subarray(off, off + take))
      this.#inPiece += take
      off += take
      if (this.#inPiece === this.pieceLength) {
        this.#pieces.push(this.#current.digest())
        this.#current = createHash('sha1')
        this.#inPiece = 0
      }
    }
    this.#total += chunk.length
  }

  /** Closes the last (short) piece; returns the concatenated SHA-1s and the hex SHA-256 ('' without one). */
  finish(): { pieces: Buffer; sha256: string } {
    if (this.#inPiece > 0) this.#pieces.push(this.#current.digest())
    this.#inPiece = 0
    return { pieces: Buffer.concat(this.#pieces), sha256: this.#whole?.digest('hex') ?? '' }
  }
}

export type BuildTorrentOptions = {
  /** File name inside the torrent (a safe basename). */
  name: string
  length: number
  pieceLength: number
  /** Concatenated 20-byte SHA-1s. */
  pieces: Buffer
  /** Tracker announce URLs written into the torrent. @defaultValue [] */
  announce?: string[]
  /** Free text recorded in the torrent (the origin URL). @defaultValue undefined */
  comment?: string
  /**
   * Written as the info dict's `source` field: two URLs serving identical bytes under the same file name
   * would otherwise share an info hash, and the engine refuses duplicate torrents. @defaultValue undefined
   */
  source?: string
}

/** A single-file v1 torrent; private so clients use only the trackers (no DHT/PEX leakage of internal objects). */
export async function buildTorrentFile(options: BuildTorrentOptions): Promise<{ torrent: Buffer; parsed: ParsedTorrent }> {
  const info: Record<string, unknown> = {
    length: options.length,
    name: Buffer.from(options.name),
    'piece length': options.pieceLength,
    pieces: options.pieces,
    private: 1,
  }
  if (options.source) info.source = Buffer.from(options.source)
  const torrent = Buffer.from(toTorrentFile({
    info,
    announce: options.announce ?? [],
    urlList: [],
    createdBy: 'colony swarm',
    ...(options.comment ? { comment: options.comment } : {}),
  }))
  return { torrent, parsed: await parseTorrentFile(torrent) }
}

export async function parseTorrentFile(torrent: Uint8Array): Promise<ParsedTorrent> {
  try {
    return await parseTorrent(torrent)
  } catch (err) {
    throw new SwarmError('SWARM_TORRENT_INVALID', `not a valid torrent: ${(err as Error).message}`, { cause: err })
  }
}

/** The last path segment of a URL made safe as a file name; "object" when there is none. */
export function nameFromUrl(url: URL): string {
  let base = url.pathname.split('/').filter(Boolean).pop() ?? ''
  try { base = decodeURIComponent(base) } catch { /* keep raw */ }
  base = base.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '').slice(0, 120)
  return base || 'object'
}

/** One file, named so that it stays inside the directory it is written to (no path, no leading dot). */
export function isSafeSingleFile(parsed: ParsedTorrent): boolean {
  return parsed.files.length === 1 && parsed.files[0]?.path === parsed.name && /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,219}$/.test(parsed.name)
}

/**
 * Why a torrent from the index cannot be the object's (undefined when it can): one file of the origin's length,
 * named so that it stays inside the object's directory.
 */
export function objectTorrentProblem(parsed: ParsedTorrent, length: number): string | undefined {
  if (parsed.length !== length || parsed.files.length !== 1) return `describes ${parsed.length} bytes, origin has ${length}`
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/.test(parsed.name) || parsed.files[0]?.path !== parsed.name) {
    return `names an unsafe file ${JSON.stringify(parsed.name)}`
  }
  return undefined
}
