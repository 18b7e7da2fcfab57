// Serving the bytes of a download in progress: which ranges are verified, where they are read from (the object file,
// or a follower's segment file before assembly), and the wait for the next change while a range is missing.
import type { EventEmitter } from 'node:events'
import { open } from 'node:fs/promises'
import type { EngineTorrent } from '../engines/engine.ts'
import type { PartSet } from './part-set.ts'

/** What a download has on disk right now, as the range functions need it. */
export type HeldBytes = {
  /** Verified whole (completedAt set). */
  complete: boolean
  /** Fetching from the origin (state 'origin'): bytes below originHave are written. */
  fromOrigin: boolean
  originHave: number
  torrent: EngineTorrent | undefined
  parts: PartSet | undefined
  /** The follower's object file is assembled from its segments (reads go to the object file). */
  assembled: boolean
  file: string
}

/** True when bytes [start, end] are on disk and verified. */
export function holdsRange(h: HeldBytes, start: number, end: number): boolean {
  if (h.complete) return true
  if (h.parts?.layout) return h.parts.hasRange(start, end)
  if (h.fromOrigin) return h.originHave > end
  const t = h.torrent
  if (!t) return false
  for (let p = Math.floor(start / t.pieceLength); p <= Math.floor(end / t.pieceLength); p++) if (!t.hasPiece(p)) return false
  return true
}

/** Reads verified bytes at pos (check holdsRange first): from the object file, or a segment file before assembly. */
export async function readHeld(h: HeldBytes, buf: Buffer, length: number, pos: number): Promise<number> {
  let file = h.file
  let offset = pos
  let n = length
  if (!h.assembled && h.parts?.layout) {
    const at = h.parts.locate(pos)
    file = at.file
    offset = at.offset
    n = Math.min(length, at.room)
  }
  const fh = await open(file, 'r')
  try { return (await fh.read(buf, 0, n, offset)).bytesRead } finally { await fh.close() }
}

/** Resolves on the download's next 'progress' or 'state', on `signal`'s abort, or after a second at most. */
export function nextChange(download: EventEmitter<{ progress: []; state: [never] }>, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => { clearTimeout(timer); download.off('progress', done); download.off('state', done); signal?.removeEventListener('abort', done); resolve() }
    const timer = setTimeout(done, 1000)
    download.once('progress', done)
    download.once('state', done)
    signal?.addEventListener('abort', done, { once: true })
  })
}
