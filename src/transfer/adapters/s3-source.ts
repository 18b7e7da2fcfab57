// S3 (or compatible) origin: GetObject streams, ListObjectsV2 pages for prefix sources.
import type { Readable } from 'node:stream'
import type { S3Client } from '@aws-sdk/client-s3'
import type { FileRef } from '../core/types.ts'
import type { Source, SourceObject } from '../core/ports.ts'
import { TransferError, TRANSFER_CODES } from '../errors.ts'
import { checkLength } from '../core/lengths.ts'
import { readPlaylistBody } from './read-playlist-body.ts'
import { keyForPath } from '../core/keys.ts'
import { createS3Client, loadS3Sdk, parseS3Url, toS3Error, type S3Options } from './s3-client.ts'

export type S3SourceOptions = S3Options & {
  /** Reuse a client (distributed workers share one). @defaultValue a new client from the options */
  client?: S3Client
  /** Dropped from listed keys. @defaultValue '' */
  stripPrefix?: string
}

export function unquoteEtag(etag: string | undefined): string | undefined {
  return etag?.replace(/^W\//, '').replace(/^"|"$/g, '')
}

export class S3Source implements Source {
  readonly #client: Promise<S3Client>
  readonly #own: boolean
  readonly #strip: string | undefined

  constructor(options: S3SourceOptions = {}) {
    this.#client = options.client ? Promise.resolve(options.client) : createS3Client(options)
    this.#client.catch(() => undefined)
    this.#own = !options.client
    this.#strip = options.stripPrefix
  }

  async get(locator: string, options: { signal?: AbortSignal } = {}): Promise<SourceObject & { modified?: number }> {
    const { bucket, prefix: key } = parseS3Url(locator)
    try {
      const { GetObjectCommand } = await loadS3Sdk()
      const out = await (await this.#client).send(new GetObjectCommand({ Bucket: bucket, Key: key }), options.signal ? { abortSignal: options.signal } : {})
      if (!out.Body) throw new TransferError(TRANSFER_CODES.S3, `${locator}: empty response`, { retryable: true })
      const etag = unquoteEtag(out.ETag)
      let size: number | undefined
      try {
        size = out.ContentLength === undefined ? undefined : checkLength(out.ContentLength, `GET ${locator}: ContentLength`)
      } catch (err) {
        (out.Body as Readable).destroy()
        throw err
      }
      return {
        body: out.Body as Readable,
        ...(size !== undefined ? { size } : {}),
        ...(etag ? { etag } : {}), ...(out.ContentType ? { contentType: out.ContentType } : {}),
        ...(out.LastModified ? { modified: out.LastModified.getTime() } : {}),
      }
    } catch (err) {
      throw toS3Error(err, `GET ${locator}`)
    }
  }

  async head(locator: string, options: { signal?: AbortSignal } = {}): Promise<{ size?: number; etag?: string; modified?: number }> {
    const { bucket, prefix: key } = parseS3Url(locator)
    try {
      const { HeadObjectCommand } = await loadS3Sdk()
      const out = await (await this.#client).send(new HeadObjectCommand({ Bucket: bucket, Key: key }), options.signal ? { abortSignal: options.signal } : {})
      const etag = unquoteEtag(out.ETag)
      return { ...(out.ContentLength !== undefined ? { size: checkLength(out.ContentLength, `HEAD ${locator}: ContentLength`) } : {}), ...(etag ? { etag } : {}), ...(out.LastModified ? { modified: out.LastModified.getTime() } : {}) }
    } catch (err) {
      throw toS3Error(err, `HEAD ${locator}`)
    }
  }

  async getText(locator: string, options: { signal?: AbortSignal; maxBytes: number }): Promise<{ text: string; url: string; contentType?: string }> {
    const obj = await this.get(locator, options.signal ? { signal: options.signal } : {})
    let buffer: Buffer
    try {
      buffer = await readPlaylistBody(obj.body, { maxBytes: options.maxBytes, ...(obj.size !== undefined ? { declaredSize: obj.size } : {}), label: locator })
    } catch (err) {
      throw toS3Error(err, `GET ${locator}`)
    }
    return { text: buffer.toString('utf8'), url: locator, ...(obj.contentType ? { contentType: obj.contentType } : {}) }
  }

  /** Every object under `s3://bucket/prefix`, keys as full object keys (bucket dropped, --strip-prefix applied). */
  async *list(locator: string, options: { signal?: AbortSignal } = {}): AsyncIterable<FileRef> {
    const { bucket, prefix } = parseS3Url(locator)
    let token: string | undefined
    const { ListObjectsV2Command } = await loadS3Sdk()
    const client = await this.#client
    do {
      let page
      try {
        page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }),
          options.signal ? { abortSignal: options.signal } : {})
      } catch (err) {
        throw toS3Error(err, `LIST ${locator}`)
      }
      for (const o of page.Contents ?? []) {
        if (!o.Key || o.Key.endsWith('/')) continue
        const etag = unquoteEtag(o.ETag)
        yield {
          source: `s3://${bucket}/${o.Key}`, key: keyForPath(o.Key, this.#strip), kind: /\.m3u8?$/i.test(o.Key) ? 'media' : 'object',
          ...(o.Size !== undefined ? { size: checkLength(o.Size, `LIST ${locator}: Size of ${o.Key}`) } : {}), ...(etag ? { etag } : {}),
        }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (token)
  }

  async close(): Promise<void> {
    if (this.#own) (await this.#client).destroy()
  }
}
