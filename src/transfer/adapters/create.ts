// Locator → adapter. One HTTP agent and one S3 client per router, so keep-alive pools are shared by every
// class and file of a run (and each worker thread builds its own router).
import type { FileRef } from '../core/types.ts'
import type { Destination, DirectGetOptions, DirectResult, Source, SourceObject } from '../core/ports.ts'
import { TransferError, TRANSFER_CODES } from '../errors.ts'
import { TRANSFER_DEFAULTS } from '../defaults.ts'
import { locatorKind } from '../core/locators.ts'
import { limitedGet, limitedGetText, limitedHead, withSlots, type SourceLimits } from '../core/limits/source-limits.ts'
import { DirDestination, type DirDestinationOptions } from './dir-destination.ts'
import { DirSource } from './dir-source.ts'
import { HttpSource, type HttpSourceOptions } from './http-source.ts'
import type { S3Options } from './s3-client.ts'
import { S3Destination, type S3DestinationOptions } from './s3-destination.ts'
import { S3Source } from './s3-source.ts'

export type SourceOptions = {
  http?: HttpSourceOptions
  s3?: S3Options
  /** Dropped from keys of listed (s3/dir) objects. @defaultValue '' */
  stripPrefix?: string
  /** --bwlimit / --max-rps pacers for every get, head and getText (not listings). @defaultValue none */
  limits?: SourceLimits
}

type HeadResult = { size?: number; etag?: string; modified?: number }

/**
 * A Source that routes each locator to the adapter for its scheme, creating adapters on first use.
 * It is what engines use: a catalog can mix HTTP and S3 classes.
 */
export class SourceRouter implements Source {
  readonly #options: SourceOptions
  #http: HttpSource | undefined
  #s3: S3Source | undefined
  #dir: DirSource | undefined

  constructor(options: SourceOptions = {}) {
    this.#options = options.limits ? { ...options, limits: withSlots(options.limits, options.http?.connections ?? TRANSFER_DEFAULTS.http.connections) } : options
  }

  for(locator: string): HttpSource | S3Source | DirSource {
    const kind = locatorKind(locator)
    if (kind === 'http') return (this.#http ??= new HttpSource(this.#options.http))
    if (kind === 's3') return (this.#s3 ??= new S3Source({ ...this.#options.s3, ...(this.#options.stripPrefix ? { stripPrefix: this.#options.stripPrefix } : {}) }))
    return (this.#dir ??= new DirSource(this.#options.stripPrefix ? { stripPrefix: this.#options.stripPrefix } : {}))
  }

  get(locator: string, options: { signal?: AbortSignal } = {}): Promise<SourceObject> {
    const limits = this.#options.limits
    return limits ? limitedGet(this.for(locator), locator, options, limits) : this.for(locator).get(locator, options)
  }

  /** The HTTP adapter's direct GET; declined for other schemes and while --bwlimit/--max-rps pace the streams. */
  getDirect(locator: string, options: DirectGetOptions): Promise<DirectResult> {
    if (this.#options.limits || locatorKind(locator) !== 'http') return Promise.resolve('declined')
    return (this.for(locator) as HttpSource).getDirect(locator, options)
  }

  head(locator: string, options: { signal?: AbortSignal } = {}): Promise<HeadResult> {
    const limits = this.#options.limits
    return limits ? limitedHead(this.for(locator), locator, options, limits) : this.for(locator).head(locator, options)
  }

  getText(locator: string, options: { signal?: AbortSignal; maxBytes: number }): Promise<{ text: string; url: string; contentType?: string }> {
    const limits = this.#options.limits
    return limits ? limitedGetText(this.for(locator), locator, options, limits) : this.for(locator).getText(locator, options)
  }

  list(prefix: string, options: { signal?: AbortSignal } = {}): AsyncIterable<FileRef> {
    const src = this.for(prefix)
    if (src instanceof HttpSource) throw new TransferError(TRANSFER_CODES.BAD_LOCATOR, `cannot list an HTTP URL: ${prefix}`)
    return src.list(prefix, options)
  }

  async close(): Promise<void> {
    await Promise.all([this.#http?.close(), this.#s3?.close()])
  }
}

/** The adapter for one locator's scheme. */
export function createSource(locator: string, options: SourceOptions = {}): Source {
  return new SourceRouter(options).for(locator)
}

export type DestinationOptions = { s3?: S3DestinationOptions; dir?: DirDestinationOptions }

/** `s3://bucket/prefix` → S3Destination; anything else is a directory (created on first write). */
export function createDestination(locator: string, options: DestinationOptions = {}): Destination {
  const kind = locatorKind(locator)
  if (kind === 's3') return new S3Destination(locator, options.s3)
  if (kind === 'http') throw new TransferError(TRANSFER_CODES.BAD_LOCATOR, `cannot write to an HTTP URL: ${locator}`, { status: 400 })
  return new DirDestination(locator.startsWith('file:') ? new URL(locator).pathname : locator, options.dir)
}

