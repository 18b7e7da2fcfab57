// Turns what the user named (playlist URLs, catalogs, s3:// prefixes, directories) into classes, and crawls
// a prefix class: its listing is the file list, and every playlist in it is read so that files referenced
// but absent from the listing are reported as missing.
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { HostAllowList } from '../../shared/allow-host.ts'
import type { ClassEntry, CrawlResult, FileRef } from './types.ts'
import type { ListingSource } from './ports.ts'
import { TransferError, TRANSFER_CODES, toTransferError } from '../errors.ts'
import { parseCatalogText, scanCatalog, type SkippedClass } from './catalog.ts'
import { crawlClass, type CrawlOptions } from './crawler.ts'
import { keyForPath, keyForUrl } from './keys.ts'
import { classIdFor, isCatalogLocator, isPlaylistLocator, locatorKind, normalizeLocator } from './locators.ts'
import { TRANSFER_DEFAULTS } from '../defaults.ts'

export type PlannedSources = { classes: ClassEntry[]; skipped: SkippedClass[]; hosts: string[] }

/** The hosts the user named on the command line: typed http(s) sources, catalogs given by URL, --allow-host patterns. */
export function namedHosts(sources: string[], catalogs: string[], allowHosts: string[] = []): HostAllowList {
  const named = new HostAllowList(allowHosts)
  for (const s of [...sources, ...catalogs]) if (/^https?:\/\//i.test(s)) named.addUrl(s)
  return named
}

export type PlanOptions = {
  signal?: AbortSignal
  /** --allow-host patterns: hosts a remote catalog may name besides its own. @defaultValue [] */
  allowHosts?: string[]
}

/**
 * Expands sources and catalogs into classes. Hosts of sources the user typed are allowed. A catalog read from a
 * local file is the user's own: its entries are trusted as if typed (any scheme; their hosts become allowed). Any
 * other catalog (a URL, an S3 object) is remote input: its masters must be http(s) on a host the user named (the
 * catalog's own host, a typed source's, --allow-host); other entries are skipped as forbidden-host.
 */
export async function planSources(sources: string[], catalogs: string[], router: ListingSource, options: PlanOptions = {}): Promise<PlannedSources> {
  const classes: ClassEntry[] = []
  const skipped: SkippedClass[] = []
  const hosts = new Set<string>()
  const ids = new Set<string>()
  const push = (c: ClassEntry): void => {
    if (ids.has(c.id)) { skipped.push({ id: c.id, source: c.source, reason: 'invalid-entry', message: `class ${c.id} named twice` }); return }
    ids.add(c.id)
    classes.push(c)
  }
  const allCatalogs = [...catalogs, ...sources.filter(isCatalogLocator)]
  const named = namedHosts(sources, catalogs, options.allowHosts)
  for (const s of sources) {
    if (isCatalogLocator(s)) continue
    const loc = normalizeLocator(s)
    if (locatorKind(loc) === 'http') hosts.add(new URL(loc).host)
    push({ id: classIdFor(loc), source: loc })
  }
  for (const cat of allCatalogs) {
    const kind = locatorKind(cat)
    let text: string
    try {
      text = kind === 'dir' ? await readFile(cat.startsWith('file:') ? fileURLToPath(cat) : cat, 'utf8')
        : (await router.getText(cat, { maxBytes: TRANSFER_DEFAULTS.crawl.maxCatalogBytes, ...(options.signal ? { signal: options.signal } : {}) })).text
    } catch (err) {
      throw new TransferError(TRANSFER_CODES.BAD_CATALOG, `cannot read catalog ${cat}: ${toTransferError(err, cat).message}`, { status: 400, cause: err })
    }
    const base = kind === 'dir' ? pathToFileURL(path.resolve(cat.startsWith('file:') ? fileURLToPath(cat) : cat)).href : cat
    const scan = scanCatalog(parseCatalogText(text, cat), { baseUrl: base, ...(kind === 'dir' ? {} : { remoteHosts: named }) })
    if (kind === 'http') hosts.add(new URL(cat).host)
    for (const c of scan.classes) {
      if (kind === 'dir' && /^https?:/.test(c.source)) hosts.add(new URL(c.source).host)
      push(c)
    }
    skipped.push(...scan.skipped)
  }
  return { classes, skipped, hosts: [...hosts] }
}

/** Key function for a class: URL path for http/s3, path relative to the listed directory for file://. */
export function keyFunctionFor(entry: ClassEntry, stripPrefix: string | undefined): (u: URL) => string {
  if (!entry.source.startsWith('file:')) return (u) => keyForUrl(u, stripPrefix)
  const file = fileURLToPath(entry.source)
  const root = isPlaylistLocator(entry.source) ? path.dirname(path.dirname(file)) : file
  return (u) => keyForPath(path.relative(root, fileURLToPath(u)).split(path.sep).join('/'), stripPrefix)
}

/** Crawls a prefix (s3:// or directory) class: the listing, plus a check of every playlist in it. */
export async function crawlPrefix(entry: ClassEntry, router: ListingSource, options: Omit<CrawlOptions, 'fetchText'>): Promise<CrawlResult> {
  const files: FileRef[] = []
  const listed = new Set<string>()
  const problems: CrawlResult['problems'] = []
  const source = entry.source.startsWith('file:') || entry.source.startsWith('s3:') ? entry.source : normalizeLocator(entry.source)
  try {
    for await (const ref of router.list(source, options.signal ? { signal: options.signal } : {})) {
      files.push(ref)
      listed.add(ref.key)
    }
  } catch (err) {
    const e = toTransferError(err, source)
    return { classId: entry.id, files: [], problems: [{ source, code: e.code, message: e.message }], complete: false, skipReason: e.code === TRANSFER_CODES.NOT_FOUND ? 'playlist-missing' : 'invalid-entry' }
  }
  const keyFor = keyFunctionFor(entry, options.stripPrefix)
  const root = source.startsWith('file:') ? `${new URL(source).pathname.replace(/\/?$/, '/')}` : `/${source.replace(/^s3:\/\/[^/]+\/?/, '')}`
  let complete = true
  for (const f of files) {
    if (!/\.m3u8?$/i.test(f.key)) continue
    const crawl = await crawlClass({ id: entry.id, source: f.source }, {
      ...options, fetchText: (l, o) => router.getText(l, o), keyFor, root, followPlaylists: false, allowIncomplete: true,
    })
    if (!crawl.complete) complete = false
    for (const p of crawl.problems) problems.push(p)
    for (const ref of crawl.files) {
      if (!listed.has(ref.key)) {
        problems.push({ source: ref.source, key: ref.key, code: TRANSFER_CODES.NOT_FOUND, message: `${ref.key} is referenced by ${f.key} but is not in ${source}` })
        listed.add(ref.key)
      }
    }
  }
  return { classId: entry.id, files, problems, complete }
}
