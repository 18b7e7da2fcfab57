// The interfaces transfer's core works through: a Source reads files, a Destination writes them. Adapters
// (src/transfer/adapters) implement Source and Destination for HTTP(S), S3 and directories.
import type { Readable } from 'node:stream'
import type { FileRef } from './types.ts'

/** Metadata a source gives with a body. */
export type SourceObject = {
  body: Readable
  size?: number
  etag?: string
  contentType?: string
  /** Origin modification time (ms since epoch), when the source knows it. */
  modified?: number
  /** Final URL after redirects (HTTP). */
  url?: string
  /** Local path (directory sources): enables the kernel-copy fast path. */
  path?: string
}

/** What a direct body's consumer is told before the first byte (see Source.getDirect). */
export type DirectHead = {
  size?: number
  etag?: string
  contentType?: string
  modified?: number
  /** Final URL after redirects. */
  url: string
}

/** Takes a body chunk by chunk; a chunk is a view valid during the call only, so it is written or copied before returning. */
export type ChunkConsumer = { write(chunk: Buffer): void }

/** `open` gives the consumer for a response's body, or undefined to take the body as a stream instead. */
export type DirectGetOptions = { signal?: AbortSignal; open(head: DirectHead): ChunkConsumer | undefined }

/** Bytes handed to the consumer; the body as a stream (`open` gave no consumer); or 'declined' (no direct lane: use get()). */
export type DirectResult = number | SourceObject | 'declined'

/** Reads files. One per scheme; `get` does ONE attempt (the engine owns retries and their order). */
export interface Source {
  /** Fetches a whole object. Errors are TransferError with a code saying whether a retry can help. */
  get(locator: string, options: { signal?: AbortSignal }): Promise<SourceObject>
  /** Fetches a small text object (a playlist), bounded by `maxBytes`. */
  getText(locator: string, options: { signal?: AbortSignal; maxBytes: number }): Promise<{ text: string; url: string; contentType?: string }>
  /** Lists every object under a prefix (S3 prefix, directory); absent for HTTP. */
  list?(prefix: string, options: { signal?: AbortSignal }): AsyncIterable<FileRef>
  /** Metadata without the body, for "already at the destination?" checks. */
  head?(locator: string, options: { signal?: AbortSignal }): Promise<{ size?: number; etag?: string; modified?: number }>
  /**
   * GET whose body goes straight from the socket's reads to the consumer `open` returns, with no stream in
   * between: resolves with the bytes delivered (exactly the announced size, when one was announced) once the body
   * ended; with the body as a stream when `open` returned no consumer; or 'declined', having sent nothing, when
   * this source has no such lane for the locator (then use get()).
   */
  getDirect?(locator: string, options: DirectGetOptions): Promise<DirectResult>
  close?(): Promise<void>
}

/** What a destination knows of a stored object. */
export type StoredObject = {
  size: number
  /** The store's ETag (S3: the MD5 for single-part objects, md5-of-md5s-N for multipart). */
  etag?: string
  /** MD5 hex computed by colony while streaming, when it did. */
  checksum?: string
  /** The origin's validator kept with the object (S3 metadata), for skip-if-unchanged. */
  sourceEtag?: string
  /** Modification time (directories keep the origin's Last-Modified). */
  modified?: number
}

/** What a destination is told with a body. */
export type PutInfo = {
  /** Announced size: a different byte count fails the write (nothing is committed). */
  size?: number
  contentType?: string
  signal?: AbortSignal
  /** Origin modification time, kept where the store can. */
  modified?: number
  /** Origin validator, kept where the store can (S3 metadata). */
  sourceEtag?: string
}

/** Writes files. `put` streams and must leave no partial object visible under `key` on failure. */
export interface Destination {
  put(key: string, body: Readable, info: PutInfo): Promise<StoredObject>
  /** Fast path for small bodies already in memory: one write (directory) or one PutObject with Content-MD5 (S3). */
  putBuffer?(key: string, body: Buffer, info: PutInfo & { md5?: string }): Promise<StoredObject>
  /** Fast path for local origins (directory → directory): a kernel copy. */
  putFromFile?(key: string, file: string, info: PutInfo): Promise<StoredObject>
  /** Undefined when absent. */
  stat(key: string): Promise<StoredObject | undefined>
  /** "s3://bucket/prefix" or "/abs/dir", for reports. */
  describe(): string
  /** Many stats at once without a thread-pool round trip each (directories: blocking stat, ~µs per file). */
  statMany?(keys: string[]): Array<StoredObject | undefined>
  /** Everything stored under the destination root, when the store lists cheaply (S3: 1000 keys a request). */
  list?(): AsyncIterable<{ key: string; size: number; etag?: string }>
  /** What is stored under one key prefix ('' = everything), streamed: `colony transfer check` lists each class's. */
  listPrefix?(prefix: string): AsyncIterable<{ key: string; size: number; etag?: string }>
  /** MD5 of a stored object, when the store keeps none itself (directories, for --checksum). */
  checksum?(key: string): Promise<string>
  /** True when nothing is stored yet: a first run then skips per-file presence checks. */
  isEmpty?(): Promise<boolean>
  close?(): Promise<void>
}

/** A Source that also lists prefixes: what planning and prefix (S3, directory) classes need. SourceRouter is one. */
export type ListingSource = Pick<Source, 'getText'> & {
  list(prefix: string, options: { signal?: AbortSignal }): AsyncIterable<FileRef>
}
