// Compares the classes that live under one destination prefix with what the destination stores there, through
// the ports only (a Source that lists and reads, a Destination that lists, stats and hashes). Memory is bounded by
// the group: its crawled files and the stored objects among them; the rest of the listing streams past.
import type { ClassEntry, CrawlResult, FileRef } from '../types.ts'
import type { Destination, Source, StoredObject } from '../ports.ts'
import { toTransferError } from '../../errors.ts'
import { compareFacts, hashStream, isPlainMd5, md5Hex, type SourceFacts, type StoredFacts } from './compare.ts'
import { addItem, emptyClassReport, settleClass, type CheckClassReport, type CheckItem } from './check-report.ts'
import { fetchRewritten, isPlaylistKind, type RewriteRule } from '../rewrite-uri.ts'
import { TRANSFER_DEFAULTS } from '../../defaults.ts'

export type CheckGroupOptions = {
  source: Source
  destination: Destination
  /** Crawls one class (the planner's crawlClass / crawlPrefix with the run's settings bound). */
  crawl: (entry: ClassEntry) => Promise<CrawlResult>
  /**
   * true: hash every source body, and a directory destination's files by reading them back. false: sizes only, no
   * body is read. undefined: MD5s where the destination keeps one (S3 single-part ETags; the source body is hashed
   * unless an s3:// source's own ETag gives its MD5), sizes elsewhere.
   */
  checksum?: boolean
  /** Playlists are compared as rewritten by these rules. @defaultValue none */
  rewriteUri?: readonly RewriteRule[]
  /** Files compared at once. @defaultValue TRANSFER_DEFAULTS.check.concurrency */
  concurrency?: number
  /** True for a key inside another class's own prefix nested below this group's: not extra here. */
  ownedElsewhere: (key: string) => boolean
  /** Each finding, as it is found. */
  onItem?: (item: CheckItem) => void
  signal?: AbortSignal
}

type Target = { ref: FileRef; classes: CheckClassReport[] }

/** What the source side of a file is, reading the body only when an MD5 is wanted and none is known. */
async function sourceFacts(ref: FileRef, wantMd5: boolean, o: CheckGroupOptions): Promise<SourceFacts> {
  const sig = o.signal ? { signal: o.signal } : {}
  if (o.rewriteUri?.length && isPlaylistKind(ref.kind)) {
    const { body } = await fetchRewritten(o.source, ref, o.rewriteUri, sig)
    return { size: body.length, md5: md5Hex(body) }
  }
  // An s3:// object's single-part ETag is its MD5: a HEAD (or the listing) gives it without reading the body.
  const s3 = ref.source.startsWith('s3:')
  let size = ref.size
  let etag = ref.etag
  const needHead = s3 ? size === undefined || (wantMd5 && !isPlainMd5(etag)) : size === undefined && !wantMd5
  if (needHead && o.source.head) {
    const head = await o.source.head(ref.source, sig)
    size = head.size ?? size
    etag = head.etag ?? etag
  }
  const md5 = s3 && isPlainMd5(etag) ? etag : undefined
  if (wantMd5 && !md5) return hashStream((await o.source.get(ref.source, sig)).body)
  return { ...(size !== undefined ? { size } : {}), ...(md5 ? { md5 } : {}) }
}

async function compareOne(t: Target, stored: StoredObject | undefined, o: CheckGroupOptions): Promise<CheckItem | undefined> {
  const { ref } = t
  const classId = t.classes[0]?.id ?? ''
  try {
    if (!stored) return { classId, type: 'missing', key: ref.key, source: ref.source, message: `${ref.key}: not at the destination` }
    // An MD5 is wanted when the store has one (S3 single-part ETag) or --checksum re-hashes the stored copy.
    const storedMd5 = o.checksum !== false && isPlainMd5(stored.etag) ? stored.etag : undefined
    const rehash = o.checksum === true && !stored.etag ? o.destination.checksum?.bind(o.destination) : undefined
    const src = await sourceFacts(ref, storedMd5 !== undefined || rehash !== undefined, o)
    const facts: StoredFacts = { size: stored.size, ...(storedMd5 ? { md5: storedMd5 } : {}) }
    if (rehash && src.md5 && (src.size === undefined || src.size === stored.size)) facts.md5 = await rehash(ref.key)
    const v = compareFacts(ref.key, src, facts)
    if (v.state === 'same') return undefined
    return { classId, type: v.state, key: ref.key, source: ref.source, ...(v.state === 'differs' ? { reason: v.reason } : {}), message: v.message }
  } catch (err) {
    const e = toTransferError(err, ref.source)
    return { classId, type: 'error', key: ref.key, source: ref.source, code: e.code, message: e.message }
  }
}

/** Checks the classes sharing one destination prefix; extra files under it are reported in the first class. */
export async function checkGroup(prefix: string, entries: ClassEntry[], o: CheckGroupOptions): Promise<CheckClassReport[]> {
  const reports = entries.map((e) => emptyClassReport(e.id, e.source, prefix))
  const emit = (c: CheckClassReport, item: CheckItem): void => { addItem(c, item); o.onItem?.(item) }
  const targets = new Map<string, Target>()
  for (const [i, entry] of entries.entries()) {
    const c = reports[i] as CheckClassReport
    const crawl = await o.crawl(entry)
    if (crawl.skipReason) {
      c.state = 'skipped'
      c.skipReason = crawl.skipReason
      c.skipMessage = crawl.problems[0]?.message ?? crawl.skipReason
      continue
    }
    for (const p of crawl.problems) emit(c, { classId: c.id, type: 'error', key: p.key ?? '', source: p.source, code: p.code, message: p.message })
    for (const ref of crawl.files) {
      c.files++
      const t = targets.get(ref.key)
      if (t) t.classes.push(c)
      else targets.set(ref.key, { ref, classes: [c] })
    }
  }
  // The stored side: one streamed listing of the prefix when the store lists, else a stat per file.
  let stored: Map<string, StoredObject> | undefined
  // A skipped class's files are unknown, so extra files are only looked for when every class of the group was crawled.
  const first = reports.every((c) => c.state !== 'skipped') ? reports[0] : undefined
  if (o.destination.listPrefix && targets.size + (first ? 1 : 0) > 0) {
    stored = new Map()
    for await (const obj of o.destination.listPrefix(prefix)) {
      if (o.signal?.aborted) break
      if (targets.has(obj.key)) stored.set(obj.key, obj)
      else if (first && !o.ownedElsewhere(obj.key)) emit(first, { classId: first.id, type: 'extra', key: obj.key, message: `${obj.key}: at the destination, referenced by no class checked here` })
    }
  }
  const list = [...targets.values()]
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < list.length && !o.signal?.aborted) {
      const t = list[next++] as Target
      const obj = stored ? stored.get(t.ref.key) : await o.destination.stat(t.ref.key).catch(() => undefined)
      const item = await compareOne(t, obj, o)
      for (const c of t.classes) {
        if (item) emit(c, { ...item, classId: c.id })
        else c.same++
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency ?? TRANSFER_DEFAULTS.check.concurrency, list.length)) }, worker))
  return reports.map(settleClass)
}
