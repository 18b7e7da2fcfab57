// The slice of parse-torrent (untyped) that the agent uses.

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

export async function loadParseTorrent(): Promise<ParseTorrentModule> {
  const specifier = 'parse-torrent'
  return (await import(specifier)) as ParseTorrentModule
}
