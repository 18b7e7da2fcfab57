// A synthetic library for benchmarks and tests of the distributed coordination itself:
// `synthetic:?classes=C&files=F` expands to C classes of F files, crawled without I/O; the copy goes through the
// core's real copyFile with a Source that produces `size` bytes and a Destination that discards them.
// createSyntheticCore is the DistributedCore of such a run (tests and benchmark workers pass it to startWorker).
import { Readable } from 'node:stream'
import type { ClassEntry, CrawlResult, FileRef } from '../src/transfer/core/types.ts'
import type { Destination, Source, SourceObject, StoredObject } from '../src/transfer/core/ports.ts'
import type { DistributedCore, ScanItem } from '../src/transfer/distributed/core-port.ts'
import { copyFile } from '../src/transfer/core/copy-file.ts'
import { TransferError, TRANSFER_CODES } from '../src/transfer/errors.ts'
import type { RunConfig } from '../src/transfer/wire-format.ts'

export type SyntheticParams = {
  classes: number; files: number; size: number; failRate: number; variants: number; delayMs: number
  /** `copy=none`: copiers settle files without streaming bytes — measures the coordination alone. */
  nullCopy: boolean
}

export function isSynthetic(source: string): boolean {
  return source.startsWith('synthetic:')
}

export function parseSynthetic(source: string): SyntheticParams & { classId?: string } {
  const u = new URL(source)
  const n = (k: string, d: number): number => { const v = Number(u.searchParams.get(k) ?? d); return Number.isFinite(v) ? v : d }
  const m = /^class\/(.+)$/.exec(u.pathname)
  return {
    classes: n('classes', 10), files: n('files', 100), size: n('size', 1000), failRate: n('fail', 0), variants: n('variants', 16), delayMs: n('delay', 0), nullCopy: u.searchParams.get('copy') === 'none',
    ...(m?.[1] ? { classId: m[1] } : {}),
  }
}

/** The catalog: one entry per class. */
export function scanSynthetic(source: string): ScanItem[] {
  const p = parseSynthetic(source)
  const items: ScanItem[] = []
  for (let c = 0; c < p.classes; c++) {
    const id = `c${String(c).padStart(5, '0')}`
    items.push({ entry: { id, source: `synthetic:class/${id}?files=${p.files}&size=${p.size}&fail=${p.failRate}&variants=${p.variants}&delay=${p.delayMs}${p.nullCopy ? '&copy=none' : ''}`, status: 'ready' } })
  }
  return items
}

/** An HLS-shaped file list: master, one media playlist per variant, segments spread over variants. */
export function crawlSynthetic(entry: ClassEntry): CrawlResult {
  const p = parseSynthetic(entry.source)
  const base = `http://origin.synthetic/lib/${entry.id}`
  const files: FileRef[] = [{ source: `${base}/master.m3u8`, key: `lib/${entry.id}/master.m3u8`, kind: 'master' }]
  const variants = Math.max(1, Math.min(p.variants, p.files - 1))
  for (let v = 0; v < variants && files.length < p.files; v++) files.push({ source: `${base}/v${v}/index.m3u8`, key: `lib/${entry.id}/v${v}/index.m3u8`, kind: 'media' })
  const segs = p.files - files.length
  for (let i = 0; i < segs; i++) {
    const v = i % variants
    const k = Math.floor(i / variants)
    files.push({ source: `${base}/v${v}/seg_${String(k).padStart(5, '0')}.ts`, key: `lib/${entry.id}/v${v}/seg_${String(k).padStart(5, '0')}.ts`, kind: 'segment' })
  }
  return { classId: entry.id, files, problems: [], complete: true }
}

function hash01(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0
  return h / 2 ** 32
}

/** Reads synthetic bytes. `fail` makes a deterministic fraction of first attempts fail with a retryable 503. */
export class SyntheticSource implements Source {
  readonly #size: number
  readonly #failRate: number
  readonly #delayMs: number
  #chunk: Buffer | undefined
  readonly #attempts = new Map<string, number>()

  constructor(options: { size: number; failRate?: number; delayMs?: number }) {
    this.#size = options.size
    this.#failRate = options.failRate ?? 0
    this.#delayMs = options.delayMs ?? 0
  }

  /** First attempt of a file in this process fails when its hash falls under the fail rate. */
  shouldFail(locator: string): boolean {
    if (this.#failRate <= 0) return false
    const n = (this.#attempts.get(locator) ?? 0) + 1
    this.#attempts.set(locator, n)
    return n === 1 && hash01(locator) < this.#failRate
  }

  async get(locator: string): Promise<SourceObject> {
    if (this.#delayMs > 0) await new Promise((r) => setTimeout(r, this.#delayMs))
    if (this.shouldFail(locator)) throw new TransferError(TRANSFER_CODES.HTTP_STATUS, `${locator}: synthetic 503`, { retryable: true })
    const size = this.#size
    const chunk = this.#chunk ??= Buffer.alloc(size, 0x47)
    const body = new Readable({ read() { if (size > 0) this.push(chunk); this.push(null) } })
    return { body, size, etag: `"syn-${size}"`, contentType: locator.endsWith('.m3u8') ? 'application/vnd.apple.mpegurl' : 'video/mp2t' }
  }

  getText(locator: string): Promise<{ text: string; url: string }> {
    return Promise.resolve({ text: '#EXTM3U\n#EXT-X-ENDLIST\n', url: locator })
  }
}

/** Discards bytes: nothing is ever stored, so nothing is found already present or left to verify. */
export class NullDestination implements Destination {
  put(_key: string, body: Readable): Promise<StoredObject> {
    return new Promise((resolve, reject) => {
      let size = 0
      body.on('data', (chunk: Buffer) => { size += chunk.length })
      body.once('error', reject)
      body.once('end', () => resolve({ size }))
    })
  }

  /** The core's small-body path (the one directory and S3 destinations take for small bodies). */
  putBuffer(_key: string, body: Buffer): Promise<StoredObject> {
    return Promise.resolve({ size: body.length })
  }

  stat(): Promise<StoredObject | undefined> {
    return Promise.resolve(undefined)
  }

  describe(): string { return 'null:' }
}

/**
 * The core of a run whose sources are all `synthetic:` (its destination is ignored: bytes are discarded). Copies go
 * through copyFile with the synthetic source; `copy=none` settles every file without streaming a byte.
 */
export function createSyntheticCore(config: Pick<RunConfig, 'sources'>): DistributedCore {
  const params = parseSynthetic(config.sources[0] ?? 'synthetic:')
  const source = new SyntheticSource({ size: params.size, failRate: params.failRate, delayMs: params.delayMs })
  const destination = new NullDestination()
  return {
    scan: (s) => Promise.resolve(scanSynthetic(s)),
    crawl: (entry) => Promise.resolve(crawlSynthetic(entry)),
    copy: (ref, options) => params.nullCopy
      ? Promise.resolve({ ok: true, key: ref.key, bytes: params.size, skipped: false })
      : copyFile(ref, { source, destination, checksum: false, checkExisting: false, signal: options.signal }),
    listable: () => false,
    close: () => Promise.resolve(),
  }
}

/** `standard` for real runs, the synthetic core for runs whose sources are all `synthetic:`. */
export function withSyntheticRuns(standard: (config: RunConfig) => DistributedCore): (config: RunConfig) => DistributedCore {
  return (config) => config.sources.length > 0 && config.sources.every(isSynthetic) ? createSyntheticCore(config) : standard(config)
}
