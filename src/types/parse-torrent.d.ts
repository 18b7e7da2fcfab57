// parse-torrent ships no types: the two functions colony's torrent-file.ts uses.
declare module 'parse-torrent' {
  /** What parsing a .torrent buffer returns (the fields colony reads). */
  export type ParsedTorrent = {
    infoHash: string
    name: string
    length: number
    pieceLength: number
    lastPieceLength: number
    /** SHA-1 of each piece, hex. */
    pieces: string[]
    announce: string[]
    files: { path: string; name: string; length: number; offset: number }[]
  }

  export default function parseTorrent(input: Uint8Array): Promise<ParsedTorrent>

  /** Bencodes a torrent from its info dict and metadata. */
  export function toTorrentFile(parsed: {
    info: Record<string, unknown>
    announce?: string[]
    urlList?: string[]
    created?: Date
    createdBy?: string
    comment?: string
  }): Uint8Array
}
