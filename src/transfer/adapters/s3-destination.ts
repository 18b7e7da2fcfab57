// S3 (or compatible) destination: PutObject for small bodies, lib-storage multipart Upload for large ones,
// Content-Type kept, the origin's validator stored as metadata so a later run can recognise unchanged files.
import type { Readable } from 'node:stream'
import type { S3Client } from '@aws-sdk/client-s3'
import { toSafeKey } from '../../shared/safe-path.ts'
import type { Destination, PutInfo, StoredObject } from '../core/ports.ts'
import { TransferError, TRANSFER_CODES, toTransferError } from '../errors.ts'
import { createS3Client, loadS3Sdk, parseS3Url, s3Endpoint, s3Region, toS3Error, type S3Options } from './s3-client.ts'
import { S3Putter, type PutCredentials, type PutResponse } from './s3-put.ts'
import { unquoteEtag } from './s3-source.ts'
import { TRANSFER_DEFAULTS } from '../defaults.ts'

export type S3DestinationOptions = S3Options & {
  /** Reuse a client. @defaultValue a new client from the options */
  client?: S3Client
  /** Bodies at least this big (or of unknown size) go multipart. @defaultValue TRANSFER_DEFAULTS.s3.multipartThreshold */
  multipartThreshold?: number
  /** Multipart part size. @defaultValue TRANSFER_DEFAULTS.s3.partSize */
  partSize?: number
  /** Parts uploaded in parallel per object. @defaultValue TRANSFER_DEFAULTS.s3.partConcurrency */
  partConcurrency?: number
  /**
   * Small in-memory bodies (putBuffer) go out as one hand-signed request instead of through the SDK's middleware
   * stack. Only with an explicit endpoint (S3-compatible store, path-style addressing); AWS itself always goes
   * through the SDK (its endpoint rules: virtual hosts, FIPS, dual-stack…). @defaultValue true
   */
  leanPut?: boolean
}

export const SOURCE_ETAG_META = 'colony-source-etag'

export class S3Destination implements Destination {
  readonly bucket: string
  readonly prefix: string
  readonly partSize: number
  readonly multipartThreshold: number
  readonly #own: boolean
  readonly #options: S3DestinationOptions
  #client: Promise<S3Client> | undefined
  #putter: S3Putter | undefined

  constructor(locator: string, options: S3DestinationOptions = {}) {
    const { bucket, prefix } = parseS3Url(locator)
    this.bucket = bucket
    this.prefix = prefix.replace(/^\/+|\/+$/g, '')
    if (options.client) this.#client = Promise.resolve(options.client)
    this.#own = !options.client
    this.#options = options
    this.partSize = options.partSize ?? TRANSFER_DEFAULTS.s3.partSize
    this.multipartThreshold = options.multipartThreshold ?? TRANSFER_DEFAULTS.s3.multipartThreshold
    const endpoint = s3Endpoint(options)
    if (endpoint && (options.leanPut ?? true) && (options.forcePathStyle ?? true)) {
      // Given credentials sign without the SDK: a copy worker handed them by the coordinator (portableCredentials)
      // never loads it (~0.2 CPU-s a thread) on a fresh destination, where its only requests are these PUTs.
      const given = options.credentials
      const client = options.client
      const region = client ? async () => { const r = client.config.region; return typeof r === 'function' ? await r() : r } : () => Promise.resolve(s3Region(options))
      this.#putter = new S3Putter({
        endpoint, connections: options.maxSockets ?? TRANSFER_DEFAULTS.s3.maxSockets, region,
        credentials: given ? () => Promise.resolve(given) : async () => (await this.#sdk()).config.credentials(),
      })
    }
  }

  /** The SDK client, made on first use: HEAD, LIST, multipart and SDK PUTs need it, lean PUTs with given credentials do not. */
  #sdk(): Promise<S3Client> {
    if (!this.#client) {
      this.#client = createS3Client(this.#options)
      this.#client.catch(() => undefined)
    }
    return this.#client
  }

  /**
   * Credentials another thread can sign with for as long as it runs: the given ones, or what the provider chain
   * resolves to when they carry no expiry (keys from the environment or a shared config file). Undefined for
   * expiring credentials (STS, SSO, instance roles), which each thread's own client must refresh.
   */
  async portableCredentials(): Promise<PutCredentials | undefined> {
    if (this.#options.credentials) return this.#options.credentials
    const c = await (await this.#sdk()).config.credentials()
    if (c.expiration) return undefined
    return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, ...(c.sessionToken ? { sessionToken: c.sessionToken } : {}) }
  }

  describe(): string {
    return `s3://${this.bucket}/${this.prefix}`
  }

  objectKey(key: string): string {
    const safe = toSafeKey(key)
    return this.prefix ? `${this.prefix}/${safe}` : safe
  }

  /** Whether put() will use multipart for this size (the caller then computes the multipart ETag). */
  isMultipart(size: number | undefined): boolean {
    return size === undefined || size >= this.multipartThreshold
  }

  async put(key: string, body: Readable, info: PutInfo = {}): Promise<StoredObject> {
    let objectKey: string
    try { objectKey = this.objectKey(key) } catch (err) {
      throw new TransferError(TRANSFER_CODES.PATH_ESCAPE, `refused key ${JSON.stringify(key)}: ${(err as Error).message}`)
    }
    const common = {
      Bucket: this.bucket, Key: objectKey, ContentType: info.contentType ?? 'application/octet-stream',
      ...(info.sourceEtag ? { Metadata: { [SOURCE_ETAG_META]: info.sourceEtag } } : {}),
    }
    const opts = info.signal ? { abortSignal: info.signal } : {}
    try {
      const client = await this.#sdk()
      if (!this.isMultipart(info.size)) {
        const { PutObjectCommand } = await loadS3Sdk()
        const out = await client.send(new PutObjectCommand({ ...common, Body: body, ContentLength: info.size }), opts)
        const etag = unquoteEtag(out.ETag)
        return { size: info.size ?? 0, ...(etag ? { etag } : {}) }
      }
      const { Upload } = await import('@aws-sdk/lib-storage')
      const upload = new Upload({
        client, params: { ...common, Body: body },
        partSize: this.partSize, queueSize: this.#options.partConcurrency ?? TRANSFER_DEFAULTS.s3.partConcurrency, leavePartsOnError: false,
      })
      const onAbort = (): void => { void upload.abort() }
      info.signal?.addEventListener('abort', onAbort, { once: true })
      try {
        const out = await upload.done()
        const etag = unquoteEtag(out.ETag)
        return { size: info.size ?? -1, ...(etag ? { etag } : {}) }
      } finally {
        info.signal?.removeEventListener('abort', onAbort)
      }
    } catch (err) {
      body.destroy()
      throw toS3Error(err, `PUT s3://${this.bucket}/${objectKey}`)
    }
  }

  /** Small bodies in memory: one PutObject; with the MD5 the store itself rejects a corrupted upload. */
  async putBuffer(key: string, body: Buffer, info: PutInfo & { md5?: string } = {}): Promise<StoredObject> {
    let objectKey: string
    try { objectKey = this.objectKey(key) } catch (err) {
      throw new TransferError(TRANSFER_CODES.PATH_ESCAPE, `refused key ${JSON.stringify(key)}: ${(err as Error).message}`)
    }
    if (this.#putter) return this.#leanPut(this.#putter, key, objectKey, body, info)
    try {
      const { PutObjectCommand } = await loadS3Sdk()
      const out = await (await this.#sdk()).send(new PutObjectCommand({
        Bucket: this.bucket, Key: objectKey, ContentType: info.contentType ?? 'application/octet-stream', Body: body, ContentLength: body.length,
        ...(info.md5 ? { ContentMD5: Buffer.from(info.md5, 'hex').toString('base64') } : {}),
        ...(info.sourceEtag ? { Metadata: { [SOURCE_ETAG_META]: info.sourceEtag } } : {}),
      }), info.signal ? { abortSignal: info.signal } : {})
      const etag = unquoteEtag(out.ETag)
      return { size: body.length, ...(etag ? { etag } : {}) }
    } catch (err) {
      throw toS3Error(err, `PUT s3://${this.bucket}/${objectKey}`)
    }
  }

  async #leanPut(putter: S3Putter, key: string, objectKey: string, body: Buffer, info: PutInfo & { md5?: string }): Promise<StoredObject> {
    const context = `PUT s3://${this.bucket}/${objectKey}`
    let res: PutResponse
    try {
      res = await putter.put({
        bucket: this.bucket, key: objectKey, body, contentType: info.contentType ?? 'application/octet-stream',
        ...(info.md5 ? { md5: info.md5 } : {}), ...(info.sourceEtag ? { metadata: { [SOURCE_ETAG_META]: info.sourceEtag } } : {}),
        ...(info.signal ? { signal: info.signal } : {}),
      })
    } catch (err) {
      throw toTransferError(err, context)
    }
    if (!res.ok) {
      // The same classification as SDK errors: SlowDown/503 → retry after a wait, 403 → access denied, …
      throw toS3Error({ name: res.code, message: res.message, $metadata: { httpStatusCode: res.status }, $response: { headers: res.retryAfter ? { 'retry-after': res.retryAfter } : {} } }, context)
    }
    const etag = unquoteEtag(res.etag)
    return { size: body.length, ...(etag ? { etag } : {}) }
  }

  async stat(key: string): Promise<StoredObject | undefined> {
    try {
      const { HeadObjectCommand } = await loadS3Sdk()
      const out = await (await this.#sdk()).send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }))
      const etag = unquoteEtag(out.ETag)
      const sourceEtag = out.Metadata?.[SOURCE_ETAG_META]
      return { size: out.ContentLength ?? 0, ...(etag ? { etag } : {}), ...(sourceEtag ? { sourceEtag } : {}), ...(out.LastModified ? { modified: out.LastModified.getTime() } : {}) }
    } catch (err) {
      const e = toS3Error(err, `HEAD ${key}`)
      if (e.code === TRANSFER_CODES.NOT_FOUND) return undefined
      throw e
    }
  }

  /** Every stored object under the prefix (keys relative to it): verification reads 1000 per request. */
  list(): AsyncIterable<{ key: string; size: number; etag?: string }> {
    return this.listPrefix('')
  }

  /** Stored objects whose keys (relative to the destination prefix) start with `prefix`. */
  async *listPrefix(prefix: string): AsyncIterable<{ key: string; size: number; etag?: string }> {
    const full = this.prefix ? `${this.prefix}/${prefix}` : prefix
    let token: string | undefined
    const strip = this.prefix ? this.prefix.length + 1 : 0
    const { ListObjectsV2Command } = await loadS3Sdk()
    const client = await this.#sdk()
    do {
      let page
      try {
        page = await client.send(new ListObjectsV2Command({ Bucket: this.bucket, ...(full ? { Prefix: full } : {}), ...(token ? { ContinuationToken: token } : {}) }))
      } catch (err) {
        throw toS3Error(err, `LIST ${this.describe()}`)
      }
      for (const o of page.Contents ?? []) {
        if (!o.Key) continue
        const etag = unquoteEtag(o.ETag)
        yield { key: o.Key.slice(strip), size: o.Size ?? 0, ...(etag ? { etag } : {}) }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (token)
  }

  async isEmpty(): Promise<boolean> {
    try {
      const { ListObjectsV2Command } = await loadS3Sdk()
      const page = await (await this.#sdk()).send(new ListObjectsV2Command({ Bucket: this.bucket, MaxKeys: 1, ...(this.prefix ? { Prefix: `${this.prefix}/` } : {}) }))
      return (page.KeyCount ?? page.Contents?.length ?? 0) === 0
    } catch (err) {
      throw toS3Error(err, `LIST ${this.describe()}`)
    }
  }

  async close(): Promise<void> {
    await this.#putter?.close()
    if (this.#own && this.#client) (await this.#client).destroy()
  }
}
