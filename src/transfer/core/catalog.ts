// Reads a catalog of classes (JSON array, {"classes": [...]}, or NDJSON; from a file or a URL), validates
// each entry and sets aside, with a reason, the ones that must not be transferred. A catalog read from a
// remote store is untrusted input: its masters must be http(s) on a host the user named.
import type { HostAllowList } from '../../shared/allow-host.ts'
import type { ClassEntry, SkipReason } from './types.ts'
import { TransferError, TRANSFER_CODES } from '../errors.ts'

export type SkippedClass = { id: string; source: string; reason: SkipReason; message: string }

export type CatalogScan = { classes: ClassEntry[]; skipped: SkippedClass[] }

export type ScanCatalogOptions = {
  /** Base for relative playlist URLs (the catalog's own URL). @defaultValue none: relative URLs are invalid */
  baseUrl?: string
  /** Statuses that mean "do not copy". @defaultValue aborted, cancelled, canceled, failed, deleted, test */
  skipStatuses?: Record<string, SkipReason>
  /**
   * Set for a catalog that is not a local file (fetched by URL, read from S3): its masters must be http(s) URLs on
   * one of these hosts, anything else is skipped as forbidden-host. Unset, the catalog is the user's own file and its
   * entries are trusted as if typed on the command line. @defaultValue unset (trusted)
   */
  remoteHosts?: HostAllowList
}

/** Why a master named by a remote catalog must not be fetched, or undefined when it may. */
export function remoteMasterRefusal(url: URL, allowed: HostAllowList): string | undefined {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `a catalog that is not a local file may only name http(s) masters, not ${url.protocol} (${url.href})`
  }
  if (!allowed.allows(url)) {
    return `master ${url.href}: host ${url.host} is not allowed (a remote catalog may name masters on its own host and on hosts given with --allow-host)`
  }
  return undefined
}

const DEFAULT_SKIP: Record<string, SkipReason> = {
  aborted: 'aborted', cancelled: 'aborted', canceled: 'aborted', failed: 'aborted', deleted: 'aborted', error: 'aborted',
  test: 'test', testing: 'test',
  recording: 'recording', live: 'recording', 'in-progress': 'recording', in_progress: 'recording',
}

/** Splits a catalog text into raw entries; throws TRANSFER_BAD_CATALOG when it is neither JSON nor NDJSON. */
export function parseCatalogText(text: string, name = 'catalog'): unknown[] {
  const trimmed = text.replace(/^\uFEFF/, '').trim()
  if (!trimmed) return []
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    try {
      const doc = JSON.parse(trimmed) as unknown
      if (Array.isArray(doc)) return doc
      const classes = (doc as { classes?: unknown }).classes
      if (Array.isArray(classes)) return classes
      return [doc]
    } catch {
      if (trimmed.startsWith('[')) throw new TransferError(TRANSFER_CODES.BAD_CATALOG, `${name}: not valid JSON`, { status: 400 })
    }
  }
  const out: unknown[] = []
  for (const [i, line] of trimmed.split(/\r?\n/).entries()) {
    const l = line.trim()
    if (!l || l.startsWith('#') || l.startsWith('//')) continue
    try { out.push(JSON.parse(l)) } catch { out.push({ __invalid: `line ${i + 1} is not JSON` }) }
  }
  return out
}

/** Validates raw entries into classes and skipped entries (with a reason each). */
export function scanCatalog(entries: unknown[], options: ScanCatalogOptions = {}): CatalogScan {
  const skipStatuses = options.skipStatuses ?? DEFAULT_SKIP
  const classes: ClassEntry[] = []
  const skipped: SkippedClass[] = []
  const ids = new Set<string>()
  entries.forEach((raw, i) => {
    const fallbackId = `#${i + 1}`
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
      skipped.push({ id: fallbackId, source: '', reason: 'invalid-entry', message: `entry ${i + 1} is not an object` })
      return
    }
    const e = raw as Record<string, unknown>
    if (typeof e.__invalid === 'string') { skipped.push({ id: fallbackId, source: '', reason: 'invalid-entry', message: e.__invalid }); return }
    const id = typeof e.id === 'string' || typeof e.id === 'number' ? String(e.id).trim() : ''
    const master = [e.master, e.url, e.playlist, e.source].find((v) => typeof v === 'string' && v.trim() !== '') as string | undefined
    const status = typeof e.status === 'string' ? e.status.trim() : undefined
    if (!id) { skipped.push({ id: fallbackId, source: master ?? '', reason: 'invalid-entry', message: `entry ${i + 1} has no id` }); return }
    if (ids.has(id)) { skipped.push({ id, source: master ?? '', reason: 'invalid-entry', message: `duplicate id ${id} (entry ${i + 1})` }); return }
    ids.add(id)
    if (!master) { skipped.push({ id, source: '', reason: 'playlist-missing', message: `class ${id} has no master/url/playlist` }); return }
    let url: URL
    try { url = options.baseUrl ? new URL(master, options.baseUrl) : new URL(master) } catch {
      skipped.push({ id, source: master, reason: 'invalid-entry', message: `class ${id}: "${master}" is not a URL` })
      return
    }
    if (!['http:', 'https:', 's3:', 'file:'].includes(url.protocol)) {
      skipped.push({ id, source: master, reason: 'invalid-entry', message: `class ${id}: unsupported scheme ${url.protocol}` })
      return
    }
    const refusal = options.remoteHosts ? remoteMasterRefusal(url, options.remoteHosts) : undefined
    if (refusal) { skipped.push({ id, source: url.href, reason: 'forbidden-host', message: `class ${id}: ${refusal}` }); return }
    const reason = status ? skipStatuses[status.toLowerCase()] : undefined
    if (reason) { skipped.push({ id, source: url.href, reason, message: `class ${id} has status "${status}"` }); return }
    classes.push({ id, source: url.href, ...(status ? { status } : {}) })
  })
  return { classes, skipped }
}
