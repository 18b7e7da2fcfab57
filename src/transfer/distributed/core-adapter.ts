// The distributed engine's view of transfer's core: the SAME planner/catalog scanner, crawler, copyFile,
// verifyFile and adapters the embedded engine uses, wrapped per run from its stored RunConfig.
import { stat } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import path from 'node:path'
import { HostAllowList } from '../../shared/allow-host.ts'
import type { ClassEntry, CopyOutcome, CrawlResult, FileRef } from '../core/types.ts'
import type { Source } from '../core/ports.ts'
import type { SourceLimits } from '../core/limits/source-limits.ts'
import type { S3Options } from '../adapters/s3-client.ts'
import type { DistributedCore, ScanItem } from './core-port.ts'
import { TransferError, TRANSFER_CODES } from '../errors.ts'
import { parseCatalogText, scanCatalog, type SkippedClass } from '../core/catalog.ts'
import { crawlClass } from '../core/crawler.ts'
import { copyFile } from '../core/copy-file.ts'
import { copyWithRewrite } from '../core/rewrite-uri.ts'
import { verifyFile } from '../core/verify.ts'
import { crawlPrefix, keyFunctionFor, namedHosts, planSources } from '../core/plan.ts'
import { isPlaylistLocator, locatorKind } from '../core/locators.ts'
import { createDestination, SourceRouter } from '../adapters/create.ts'
import type { RunConfig } from '../wire-format.ts'
import { TRANSFER_DEFAULTS } from '../defaults.ts'

export type TransferCoreOptions = {
  /** S3 credentials for tests against s3rver (never stored in Redis). @defaultValue the AWS default chain */
  s3Credentials?: S3Options['credentials']
  /** The run's --bwlimit / --max-rps pacers (the worker's, over Redis). @defaultValue none */
  limits?: SourceLimits
}

/** Builds the core for one run. */
export function createTransferCore(config: RunConfig, options: TransferCoreOptions = {}): DistributedCore {
  const core = config.core
  const s3: S3Options | undefined = core.s3 || options.s3Credentials ? { ...core.s3, ...(options.s3Credentials ? { credentials: options.s3Credentials } : {}) } : undefined
  // The hosts the user named (typed sources, catalogs given by URL, --allow-host): what a remote catalog may name.
  const named = namedHosts(config.sources, [], core.allowHosts)
  // What crawls and redirects may reach: the named hosts plus the hosts of classes a local catalog names.
  const allow = new HostAllowList(named.list())
  const router = new SourceRouter({
    http: { connections: core.connections ?? TRANSFER_DEFAULTS.distributed.connections, ...(core.pipelining ? { pipelining: core.pipelining } : {}), allowRedirect: (u) => allow.allows(u) },
    ...(s3 ? { s3 } : {}),
    ...(core.stripPrefix ? { stripPrefix: core.stripPrefix } : {}), ...(options.limits ? { limits: options.limits } : {}),
  })
  const destination = createDestination(config.to, { s3: { ...s3, ...(core.multipartThreshold ? { multipartThreshold: core.multipartThreshold } : {}) } })
  const checksum = core.checksum ?? locatorKind(config.to) === 's3'
  const watch = Boolean(config.watchMs)

  const scan = async (source: string, inline: string | undefined, opts: { watch: boolean; signal: AbortSignal }): Promise<ScanItem[]> => {
    let classes: ClassEntry[]
    let skipped: SkippedClass[]
    if (inline !== undefined) {
      // A catalog file read on the submitting machine: entries are trusted as typed (as the embedded planner does).
      const base = pathToFileURL(path.resolve(source.startsWith('file:') ? new URL(source).pathname : source)).href
      const res = scanCatalog(parseCatalogText(inline, source), { baseUrl: base })
      classes = res.classes
      skipped = res.skipped
      for (const c of classes) if (/^https?:/.test(c.source)) allow.addUrl(c.source)
    } else {
      const plan = await planSources([source], [], router, { signal: opts.signal, allowHosts: named.list() })
      classes = plan.classes
      skipped = plan.skipped
      for (const h of plan.hosts) allow.add(h)
    }
    const trusted = (src: string): boolean => { try { const u = new URL(src); return !/^https?:$/.test(u.protocol) || allow.allows(u) } catch { return false } }
    const items: ScanItem[] = classes.map((entry) => ({ entry, trusted: trusted(entry.source) }))
    for (const s of skipped) {
      // Continuous sync copies classes while they record; one-shot runs skip them as the embedded engine does.
      if (opts.watch && s.reason === 'recording' && s.source) items.push({ entry: { id: s.id, source: s.source, status: 'recording' }, trusted: trusted(s.source) })
      else items.push({ entry: { id: s.id, source: s.source }, skip: { reason: s.reason, message: s.message } })
    }
    return items
  }

  const crawl = async (entry: ClassEntry, opts: { signal: AbortSignal; trustHost?: boolean }): Promise<CrawlResult> => {
    // Another process scanned this class; it recorded whether its host was vouched for. A class whose host nobody
    // vouched for is never fetched.
    if (/^https?:/.test(entry.source)) {
      if (opts.trustHost) allow.addUrl(entry.source)
      else if (!allow.allows(new URL(entry.source))) {
        throw new TransferError(TRANSFER_CODES.FORBIDDEN_HOST, `class ${entry.id}: host ${new URL(entry.source).host} is not allowed (see --allow-host)`, { details: { skipReason: 'forbidden-host', classId: entry.id } })
      }
    }
    const common = {
      allowHosts: allow, retries: config.retries, keyFor: keyFunctionFor(entry, core.stripPrefix), signal: opts.signal,
      ...(core.stripPrefix ? { stripPrefix: core.stripPrefix } : {}),
      ...(core.maxPlaylistBytes ? { maxPlaylistBytes: core.maxPlaylistBytes } : {}),
      ...(core.maxFilesPerClass ? { maxFiles: core.maxFilesPerClass } : {}),
      ...(core.maxDepth !== undefined ? { maxDepth: core.maxDepth } : {}),
      ...(watch ? { allowIncomplete: true } : {}),
    }
    const res: CrawlResult & { skipReason?: string } = isPlaylistLocator(entry.source)
      ? await crawlClass(entry, { ...common, fetchText: (l, o) => router.getText(l, o) })
      : await crawlPrefix(entry, router, common)
    // Directory listings carry no validators; --watch needs them to notice a changed file (same form as DirSource's).
    if (watch && entry.source.startsWith('file:')) {
      await Promise.all(res.files.map(async (f) => {
        if (!f.source.startsWith('file:') || (f.size !== undefined && f.etag)) return
        try { const st = await stat(fileURLToPath(f.source)); f.size = st.size; f.etag = `${Math.floor(st.mtimeMs)}-${st.size}` } catch { /* gone: the copy will say */ }
      }))
    }
    // Playlists name segments without validators. In --watch runs every HTTP file is HEAD-checked each cycle
    // (as rclone's sync checks every file), so an object replaced at the origin is noticed and copied again.
    if (watch && /^https?:/.test(entry.source)) await headEach(res.files.filter((f) => /^https?:/.test(f.source) && !f.etag), router, opts.signal)
    if (res.skipReason) {
      const p = res.problems[0]
      throw new TransferError((p?.code ?? TRANSFER_CODES.NOT_FOUND) as typeof TRANSFER_CODES[keyof typeof TRANSFER_CODES],
        p?.message ?? `class ${entry.id} skipped: ${res.skipReason}`, { details: { skipReason: res.skipReason, classId: entry.id } })
    }
    return res
  }

  const copy = async (ref: FileRef, opts: { signal: AbortSignal }): Promise<CopyOutcome> => {
    const outcome = await copyWithRewrite(copyFile, ref, { source: router, destination, checksum, signal: opts.signal }, core.rewriteUri)
    if (!outcome.ok || outcome.skipped) return outcome
    // The done bit means "verified at the destination": check now, with the store's answer, before setting it.
    const o = outcome as CopyOutcome & { md5?: string }
    const v = await verifyFile(destination, { key: ref.key, size: outcome.bytes, ...(outcome.etag ? { etag: outcome.etag } : {}), ...(o.md5 ? { md5: o.md5 } : {}) }, { checksum })
    return v.ok ? outcome : { ok: false, key: ref.key, code: v.code, message: v.message, retryable: true }
  }

  return {
    scan, crawl, copy,
    listable: () => true,
    close: async () => { await router.close().catch(() => undefined); await destination.close?.().catch(() => undefined) },
  }
}

/** Fills size and ETag from a HEAD of each file, TRANSFER_DEFAULTS.crawl.headConcurrency at a time; a failed HEAD leaves the file as it was. */
async function headEach(files: FileRef[], source: Pick<Source, 'head'>, signal: AbortSignal): Promise<void> {
  let next = 0
  const lane = async (): Promise<void> => {
    for (let f = files[next++]; f; f = files[next++]) {
      try {
        const h = await source.head?.(f.source, { signal })
        if (h?.size !== undefined) f.size = h.size
        if (h?.etag) f.etag = h.etag
      } catch { /* the copy itself reports a file that is gone */ }
    }
  }
  await Promise.all(Array.from({ length: TRANSFER_DEFAULTS.crawl.headConcurrency }, lane))
}
