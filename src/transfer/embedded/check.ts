// `colony transfer check`: plans the sources as a transfer would, then, class by class, compares what they
// reference with what the destination stores, without copying or journaling anything. Works on any destination
// (written by colony, rclone, cp…). Classes are grouped by the destination prefix they live under (the directory
// of their entry playlist's key; '' for a directory source, the listed prefix for an s3:// source): each prefix is
// listed once, and a stored file there that none of its classes references is extra, unless it sits under the own
// prefix of another class nested deeper.
import { HostAllowList } from '../../shared/allow-host.ts'
import type { ClassEntry, CrawlResult } from '../core/types.ts'
import { TRANSFER_CODES } from '../errors.ts'
import { crawlClass } from '../core/crawler.ts'
import { crawlPrefix, keyFunctionFor, namedHosts, planSources } from '../core/plan.ts'
import { isPlaylistLocator } from '../core/locators.ts'
import { keyForUrl } from '../core/keys.ts'
import { checkGroup } from '../core/check/check-class.ts'
import { buildCheckReport, emptyClassReport, type CheckClassReport, type CheckItem, type CheckReport } from '../core/check/check-report.ts'
import type { RewriteRule } from '../core/rewrite-uri.ts'
import { createDestination, SourceRouter } from '../adapters/create.ts'
import type { TransferOptions } from './engine.ts'
import { TRANSFER_DEFAULTS } from '../defaults.ts'

export type CheckOptions = Pick<TransferOptions, 'sources' | 'catalogs' | 'to' | 'allowHosts' | 'stripPrefix' | 's3' | 'maxPlaylistBytes' | 'maxFilesPerClass' | 'maxDepth' | 'allowIncomplete' | 'signal'> & {
  /** true: hash every body on both sides; false: sizes only; unset: MD5s where the destination keeps one (CheckGroupOptions.checksum). @defaultValue unset */
  checksum?: boolean
  /** Compare playlists as --rewrite-uri would have written them. @defaultValue none */
  rewriteUri?: RewriteRule[]
  /** Files compared at once. @defaultValue TRANSFER_DEFAULTS.check.concurrency */
  concurrency?: number
  /** Each finding as it is found (--json streams them). */
  onItem?: (item: CheckItem) => void
  /** Each class's report once its group is checked. */
  onClass?: (c: CheckClassReport) => void
}

const dirOfKey = (key: string): string => key.slice(0, key.lastIndexOf('/') + 1)

/** The destination prefix a class's files live under. */
export function classPrefix(entry: ClassEntry, stripPrefix: string | undefined): string {
  try {
    if (isPlaylistLocator(entry.source)) return dirOfKey(keyFunctionFor(entry, stripPrefix)(new URL(entry.source)))
    if (entry.source.startsWith('file:')) return ''
    return dirOfKey(keyForUrl(new URL(entry.source.replace(/\/?$/, '/x')), stripPrefix))
  } catch {
    return ''
  }
}

export async function runCheck(options: CheckOptions): Promise<CheckReport> {
  const startedAt = new Date().toISOString()
  const signal = options.signal
  let allow = namedHosts(options.sources, options.catalogs ?? [], options.allowHosts)
  const router = new SourceRouter({
    ...(options.s3 ? { s3: options.s3 } : {}), ...(options.stripPrefix ? { stripPrefix: options.stripPrefix } : {}),
    http: { connections: TRANSFER_DEFAULTS.embedded.crawlConnections, allowRedirect: (u) => allow.allows(u) },
  })
  const destination = createDestination(options.to, { s3: { ...options.s3 } })
  try {
    const plan = await planSources(options.sources, options.catalogs ?? [], router, { ...(signal ? { signal } : {}), ...(options.allowHosts ? { allowHosts: options.allowHosts } : {}) })
    allow = new HostAllowList([...plan.hosts, ...(options.allowHosts ?? [])])
    const classes: CheckClassReport[] = []
    for (const s of plan.skipped) {
      const c = { ...emptyClassReport(s.id, s.source, ''), state: 'skipped' as const, skipReason: s.reason, skipMessage: s.message }
      classes.push(c)
      options.onClass?.(c)
    }
    const groups = new Map<string, ClassEntry[]>()
    for (const entry of plan.classes) {
      const p = classPrefix(entry, options.stripPrefix)
      const group = groups.get(p)
      if (group) group.push(entry)
      else groups.set(p, [entry])
    }
    const crawl = async (entry: ClassEntry): Promise<CrawlResult> => {
      const common = {
        allowHosts: allow, keyFor: keyFunctionFor(entry, options.stripPrefix), ...(options.stripPrefix ? { stripPrefix: options.stripPrefix } : {}),
        ...(options.maxPlaylistBytes ? { maxPlaylistBytes: options.maxPlaylistBytes } : {}), ...(options.maxFilesPerClass ? { maxFiles: options.maxFilesPerClass } : {}),
        ...(options.maxDepth !== undefined ? { maxDepth: options.maxDepth } : {}), ...(options.allowIncomplete ? { allowIncomplete: true } : {}),
        ...(signal ? { signal } : {}),
      }
      try {
        return isPlaylistLocator(entry.source)
          ? await crawlClass(entry, { ...common, fetchText: (l, o) => router.getText(l, o) })
          : await crawlPrefix(entry, router, common)
      } catch (err) {
        if (signal?.aborted) throw err
        return { classId: entry.id, files: [], problems: [{ source: entry.source, code: (err as { code?: string }).code ?? TRANSFER_CODES.INTERNAL, message: (err as Error).message }], complete: false, skipReason: 'invalid-entry' }
      }
    }
    for (const [prefix, entries] of groups) {
      if (signal?.aborted) break
      const ownedElsewhere = (key: string): boolean => {
        for (let i = key.lastIndexOf('/'); i >= prefix.length && i > 0; i = key.lastIndexOf('/', i - 1)) {
          if (groups.has(key.slice(0, i + 1))) return true
        }
        return false
      }
      const reports = await checkGroup(prefix, entries, {
        source: router, destination, crawl, ...(options.checksum !== undefined ? { checksum: options.checksum } : {}), ownedElsewhere,
        ...(options.rewriteUri?.length ? { rewriteUri: options.rewriteUri } : {}), ...(options.concurrency ? { concurrency: options.concurrency } : {}),
        ...(options.onItem ? { onItem: options.onItem } : {}), ...(signal ? { signal } : {}),
      })
      for (const c of reports) { classes.push(c); options.onClass?.(c) }
    }
    signal?.throwIfAborted()
    return buildCheckReport({ destination: destination.describe(), checksum: options.checksum === true, startedAt, classes })
  } finally {
    await router.close().catch(() => undefined)
    await destination.close?.().catch(() => undefined)
  }
}
