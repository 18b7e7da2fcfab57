// Reading a body of announced size without stream machinery: plain 'data'/'end' listeners hand each chunk on as it
// arrives (to a file, a hash, a preallocated buffer), and the read fails with TRANSFER_TRUNCATED when the body is
// not exactly the announced size. The async iterator or a Transform costs more per chunk than the copy of a small
// body, and small bodies are most files of an HLS library.
import type { StoredObject } from './ports.ts'
import { TransferError, TRANSFER_CODES, toTransferError } from '../errors.ts'

/**
 * Where a destination takes a body chunk by chunk, with blocking calls (a copy worker thread's directory):
 * nothing is visible under the key until `commit`, and `abort` removes what was written.
 */
export type BodySink = {
  /** Writes one chunk; throws on a write failure (the caller aborts). */
  write(chunk: Buffer): void
  /** Makes the body visible under its key; throws TRANSFER_TRUNCATED when fewer or more bytes than announced came. */
  commit(): StoredObject
  /** Drops what was written; never throws. */
  abort(): void
}

type Body = NodeJS.ReadableStream & { destroy(err?: Error): void }

/**
 * Calls `onChunk` with every chunk of `body` and resolves with the byte count once it ended with exactly `size`
 * bytes. A failing `onChunk` (a write error) destroys the body and rejects with that error.
 */
export function consumeBody(body: Body, size: number, label: string, onChunk: (chunk: Buffer) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    let n = 0
    let done = false
    const finish = (err?: Error): void => {
      if (done) return
      done = true
      body.removeListener('data', onData)
      body.removeListener('end', onEnd)
      body.removeListener('error', onError)
      body.removeListener('close', onClose)
      if (err) { body.destroy(); reject(err); return }
      if (n !== size) {
        body.destroy()
        reject(new TransferError(TRANSFER_CODES.TRUNCATED, `${label}: got ${n} of ${size} bytes`, { retryable: true }))
        return
      }
      resolve(n)
    }
    const onData = (chunk: Buffer): void => {
      n += chunk.length
      if (n > size) { finish(); return }
      try { onChunk(chunk) } catch (err) { finish(err as Error) }
    }
    const onEnd = (): void => finish()
    const onError = (err: Error): void => finish(toTransferError(err, label))
    const onClose = (): void => finish(toTransferError(Object.assign(new Error('premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }), label))
    // A body that already ended or failed before we looked (what `for await` would have noticed too).
    const state = body as Body & { errored?: Error | null; destroyed?: boolean; readableEnded?: boolean }
    if (state.errored) { finish(toTransferError(state.errored, label)); return }
    if (state.readableEnded) { finish(); return }
    if (state.destroyed) { onClose(); return }
    body.on('data', onData)
    body.once('end', onEnd)
    body.once('error', onError)
    body.once('close', onClose)
  })
}

/**
 * Reads a whole body of `size` bytes into one buffer: a body that comes as one chunk is kept as it is, others are
 * copied once into a buffer of the announced size (no list of chunks, no concatenation at the end).
 */
export async function readBody(body: Body, size: number, label: string): Promise<Buffer> {
  let whole: Buffer | undefined
  let first: Buffer | undefined
  let at = 0
  await consumeBody(body, size, label, (chunk) => {
    if (!whole && !first && chunk.length === size) { first = chunk; return }
    whole ??= Buffer.allocUnsafe(size)
    at += chunk.copy(whole, at)
  })
  return first ?? whole ?? Buffer.alloc(0)
}
