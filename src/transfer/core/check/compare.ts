// `colony transfer check`: how one file at the source compares with what the destination stores. Pure: it is
// given what each side knows (sizes, MD5s) and says same, missing or differs, with the reason in words.
import { createHash } from 'node:crypto'
import type { Readable } from 'node:stream'

/** What is known of the source file: its size and, when read or given by the store, its MD5. */
export type SourceFacts = { size?: number; md5?: string }

/** What is known of the stored file: its size and, when the store keeps one or it was re-hashed, its MD5. */
export type StoredFacts = { size: number; md5?: string }

export type FileVerdict =
  | { state: 'same' }
  | { state: 'missing'; message: string }
  | { state: 'differs'; reason: 'size' | 'checksum'; message: string }

/** A plain MD5 in hex: what S3 gives as the ETag of a single-part, unencrypted upload (a multipart one ends in -N). */
export function isPlainMd5(etag: string | undefined): etag is string {
  return etag !== undefined && /^[0-9a-f]{32}$/i.test(etag)
}

/** Compares sizes, then MD5s where both sides know one. */
export function compareFacts(key: string, source: SourceFacts, stored: StoredFacts | undefined): FileVerdict {
  if (!stored) return { state: 'missing', message: `${key}: not at the destination` }
  if (source.size !== undefined && source.size !== stored.size) {
    return { state: 'differs', reason: 'size', message: `${key}: ${stored.size} bytes at the destination, ${source.size} at the source` }
  }
  if (source.md5 && stored.md5 && source.md5.toLowerCase() !== stored.md5.toLowerCase()) {
    return { state: 'differs', reason: 'checksum', message: `${key}: MD5 ${stored.md5} at the destination, ${source.md5} at the source` }
  }
  return { state: 'same' }
}

/** MD5 and byte count of a body, streamed. */
export async function hashStream(body: Readable): Promise<{ md5: string; size: number }> {
  const h = createHash('md5')
  let size = 0
  for await (const chunk of body as AsyncIterable<Buffer>) { h.update(chunk); size += chunk.length }
  return { md5: h.digest('hex'), size }
}

/** MD5 of a buffer in hex. */
export function md5Hex(buf: Buffer): string {
  return createHash('md5').update(buf).digest('hex')
}
