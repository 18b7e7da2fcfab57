import type { Readable } from 'node:stream'
import { TRANSFER_CODES, TransferError } from '../errors.ts'

export type ReadPlaylistBodyOptions = {
  /** Refuse past this many bytes. */
  maxBytes: number
  /** The size the source announced (Content-Length, S3 ContentLength), checked before reading. @defaultValue undefined */
  declaredSize?: number
  /** What to name in the error (a URL or locator). */
  label: string
}

/**
 * Reads a playlist body whole, refusing it (TRANSFER_PLAYLIST_TOO_LARGE) as soon as it is known to be too big:
 * from the announced size, or while streaming for sources that lie or announce nothing. The body is destroyed
 * on refusal so the connection is not drained for nothing.
 */
export async function readPlaylistBody(body: Readable, options: ReadPlaylistBodyOptions): Promise<Buffer> {
  const { maxBytes, declaredSize, label } = options
  if (declaredSize !== undefined && Number.isFinite(declaredSize) && declaredSize > maxBytes) {
    body.destroy()
    throw new TransferError(TRANSFER_CODES.PLAYLIST_TOO_LARGE, `${label} is ${declaredSize} bytes, over the ${maxBytes}-byte playlist limit`)
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > maxBytes) {
      body.destroy()
      throw new TransferError(TRANSFER_CODES.PLAYLIST_TOO_LARGE, `${label} is over the ${maxBytes}-byte playlist limit`)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}
