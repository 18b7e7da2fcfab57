// Walks one class (a master or media playlist) and returns every file it references, deduplicated by key.
// Knows no transport: it is given a text fetcher. Hostile input (escapes, foreign hosts, loops, huge or
// non-playlist bodies) becomes a problem of this class, never an exception that stops other classes.
import type { HostAllowList } from '../../shared/allow-host.ts'
import { computeBackoff, delay } from '../../shared/backoff.ts'
import type { ClassEntry, CrawlResult, FileKind, FileRef, SkipReason } from './types.ts'
import { TransferError, TRANSFER_CODES, toTransferError } from '../errors.ts'
import { dirOfPath, keyForUrl } from './keys.ts'
import { parsePlaylist } from './playlist-uris.ts'
import { TRANSFER_DEFAULTS } from '../defaults.ts'

/** Fetches a playlist's text; `url` in the answer is the final URL after redirects (the base for relative URIs). */
export type FetchText = (locator: string, options: { maxBytes: number; signal?: AbortSignal }) => Promise<{ text: string; url: string; contentType?: string }>

export type CrawlOptions = {
  /** How playlists are read (a Source's getText, or an in-memory map in tests). */
  fetchText: FetchText
  /** Hosts besides the entry's own that URIs may point to. @defaultValue none */
  allowHosts?: HostAllowList
  /** Leading path part dropped from every key. @defaultValue '' */
  stripPrefix?: string
  /** Key for a file URL. @defaultValue keyForUrl(url, stripPrefix) */
  keyFor?: (url: URL) => string
  /**
   * Path prefix that same-origin URIs must stay under, so `../` cannot reach other classes or the server's
   * other content. @defaultValue the directory of the entry playlist
   */
  root?: string
  /** Bigger playlists are refused (TRANSFER_PLAYLIST_TOO_LARGE). @defaultValue TRANSFER_DEFAULTS.crawl.maxPlaylistBytes */
  maxPlaylistBytes?: number
  /** A class referencing more files is cut off (TRANSFER_TOO_MANY_FILES). @defaultValue TRANSFER_DEFAULTS.crawl.maxFilesPerClass */
  maxFiles?: number
  /** Playlist nesting depth (master → media = 1). @defaultValue TRANSFER_DEFAULTS.crawl.maxDepth */
  maxDepth?: number
  /** Playlists fetched in parallel within the class. @defaultValue TRANSFER_DEFAULTS.crawl.concurrency */
  concurrency?: number
  /** Attempts after the first for retryable playlist fetch errors. @defaultValue TRANSFER_DEFAULTS.crawl.retries */
  retries?: number
  /** Backoff base for those retries. @defaultValue TRANSFER_DEFAULTS.crawl.retryBaseMs */
  retryBaseMs?: number
  /** Fetch and read referenced playlists (off: record them as files only, for listings that read each one). @defaultValue true */
  followPlaylists?: boolean
  /** Copy classes whose media playlists lack EXT-X-ENDLIST instead of skipping them as recording. @defaultValue false */
  allowIncomplete?: boolean
  /**
   * Called as each playlist is parsed, with the files it added to the class. Returning true takes them: they are
   * left out of the result's `files` (the caller has them already). @defaultValue none: every file is in the result
   */
  onPlaylist?: (files: FileRef[], playlist: { url: string; media: boolean; endlist: boolean }) => boolean
  signal?: AbortSignal
}

type Problem = CrawlResult['problems'][number]

const SKIP_FOR_CODE: Record<string, SkipReason> = {
  [TRANSFER_CODES.NOT_FOUND]: 'playlist-missing',
  [TRANSFER_CODES.NOT_PLAYLIST]: 'not-a-playlist',
  [TRANSFER_CODES.PLAYLIST_TOO_LARGE]: 'too-large',
  [TRANSFER_CODES.FORBIDDEN_HOST]: 'forbidden-host',
  [TRANSFER_CODES.PATH_ESCAPE]: 'hostile-playlist',
  [TRANSFER_CODES.BAD_LENGTH]: 'hostile-playlist',
}

/** Crawls one class. Never throws for content problems; only an abort rejects. */
export async function crawlClass(entry: ClassEntry, options: CrawlOptions): Promise<CrawlResult & { skipReason?: SkipReason }> {
  const maxFiles = options.maxFiles ?? TRANSFER_DEFAULTS.crawl.maxFilesPerClass
  const maxDepth = options.maxDepth ?? TRANSFER_DEFAULTS.crawl.maxDepth
  const maxBytes = options.maxPlaylistBytes ?? TRANSFER_DEFAULTS.crawl.maxPlaylistBytes
  const files = new Map<string, FileRef>()
  // Keys of files onPlaylist took: still part of the class (deduplication, the file limit), no longer held here.
  const taken = new Set<string>()
  const problems: Problem[] = []
  const problemKeys = new Set<string>()
  let complete = true
  let cutOff = false

  let entryUrl: URL
  try { entryUrl = new URL(entry.source) } catch {
    return { classId: entry.id, files: [], problems: [{ source: entry.source, code: TRANSFER_CODES.BAD_URI, message: `not a URL: ${entry.source}` }], complete: false, skipReason: 'invalid-entry' }
  }
  const root = options.root ?? dirOfPath(entryUrl.pathname)
  const keyFor = options.keyFor ?? ((u: URL) => keyForUrl(u, options.stripPrefix))

  const problem = (source: string, err: unknown, key?: string): void => {
    const e = toTransferError(err, source)
    const id = `${key ?? source}\0${e.code}`
    if (problemKeys.has(id)) return
    problemKeys.add(id)
    problems.push({ source, ...(key ? { key } : {}), code: e.code, message: e.message })
  }

  /** Checks a resolved URI against host, scheme and root rules; returns its key or records a problem. */
  const admit = (url: URL, from: string): string | undefined => {
    try {
      if (url.protocol === 'http:' || url.protocol === 'https:') {
        const sameOrigin = url.protocol === entryUrl.protocol && url.host === entryUrl.host
        if (!sameOrigin && !options.allowHosts?.allows(url)) {
          throw new TransferError(TRANSFER_CODES.FORBIDDEN_HOST, `${url.href} (referenced by ${from}): host ${url.host} is not allowed (add it with --allow-host)`)
        }
        if (sameOrigin && !url.pathname.startsWith(root)) {
          throw new TransferError(TRANSFER_CODES.PATH_ESCAPE, `${url.href} (referenced by ${from}) escapes the class root ${root}`)
        }
      } else if (url.protocol !== entryUrl.protocol || url.host !== entryUrl.host) {
        throw new TransferError(TRANSFER_CODES.FORBIDDEN_HOST, `${url.href} (referenced by ${from}): scheme or bucket differs from the class's`)
      } else if (!url.pathname.startsWith(root)) {
        throw new TransferError(TRANSFER_CODES.PATH_ESCAPE, `${url.href} (referenced by ${from}) escapes the class root ${root}`)
      }
      return keyFor(url)
    } catch (err) {
      problem(url.href, err)
      return undefined
    }
  }

  const addFile = (url: URL, key: string, kind: FileKind): boolean => {
    if (files.has(key) || taken.has(key)) return false
    if (files.size + taken.size >= maxFiles) {
      if (!cutOff) problem(url.href, new TransferError(TRANSFER_CODES.TOO_MANY_FILES, `class ${entry.id} references more than ${maxFiles} files; the rest were not crawled`))
      cutOff = true
      return false
    }
    files.set(key, { source: url.href, key, kind })
    return true
  }

  const fetchWithRetry = async (locator: string): Promise<{ text: string; url: string }> => {
    const retries = options.retries ?? TRANSFER_DEFAULTS.crawl.retries
    for (let attempt = 0; ; attempt++) {
      try {
        return await options.fetchText(locator, { maxBytes, ...(options.signal ? { signal: options.signal } : {}) })
      } catch (err) {
        const e = toTransferError(err, locator)
        if (e.code === TRANSFER_CODES.ABORTED || options.signal?.aborted) throw e
        if (!e.retryable || attempt >= retries) throw e
        await delay(Math.max(e.retryAfterMs ?? 0, computeBackoff(attempt, { baseMs: options.retryBaseMs ?? TRANSFER_DEFAULTS.crawl.retryBaseMs })), options.signal)
      }
    }
  }

  // Breadth-first over playlists with a bounded number of fetches in flight. `ancestors` spots loops:
  // a playlist that references one of its own ancestors (a diamond is fine, a cycle is hostile).
  type Job = { url: URL; key: string; depth: number; ancestors: Set<string> }
  const entryKey = admit(entryUrl, 'the catalog')
  if (entryKey === undefined) {
    return { classId: entry.id, files: [], problems, complete: false, skipReason: SKIP_FOR_CODE[problems[0]?.code ?? ''] ?? 'hostile-playlist' }
  }
  const queue: Job[] = [{ url: entryUrl, key: entryKey, depth: 0, ancestors: new Set() }]
  let entrySkip: SkipReason | undefined
  const visitPlaylist = async (job: Job): Promise<void> => {
    let fetched: { text: string; url: string }
    try {
      fetched = await fetchWithRetry(job.url.href)
    } catch (err) {
      const e = toTransferError(err, job.url.href)
      if (e.code === TRANSFER_CODES.ABORTED) throw e
      if (job.depth === 0) entrySkip = SKIP_FOR_CODE[e.code] ?? 'playlist-missing'
      problem(job.url.href, e, job.key)
      return
    }
    let base: URL
    try { base = new URL(fetched.url) } catch { base = job.url }
    if (base.href !== job.url.href && (base.protocol === 'http:' || base.protocol === 'https:')) {
      if (base.host !== entryUrl.host && !options.allowHosts?.allows(base)) {
        problem(job.url.href, new TransferError(TRANSFER_CODES.FORBIDDEN_HOST, `${job.url.href} redirects to ${base.href}, a host not allowed`), job.key)
        if (job.depth === 0) entrySkip = 'forbidden-host'
        return
      }
    }
    let parsed: ReturnType<typeof parsePlaylist>
    try {
      parsed = parsePlaylist(fetched.text, job.url.href)
    } catch (err) {
      if (job.depth === 0) entrySkip = SKIP_FOR_CODE[toTransferError(err, job.url.href).code] ?? 'not-a-playlist'
      problem(job.url.href, err, job.key)
      return
    }
    if (job.depth === 0) {
      const ref = files.get(job.key)
      if (ref) ref.kind = parsed.isMaster ? 'master' : 'media'
    }
    if (!parsed.isMaster && !parsed.endlist) complete = false
    const lineage = new Set(job.ancestors).add(job.key)
    const added: FileRef[] = []
    for (const ref of parsed.refs) {
      let url: URL
      try { url = new URL(ref.uri, base) } catch {
        problem(ref.uri, new TransferError(TRANSFER_CODES.BAD_URI, `bad URI "${ref.uri}" in ${job.url.href}`))
        continue
      }
      const key = admit(url, job.url.href)
      if (key === undefined) continue
      if (ref.playlist && lineage.has(key)) {
        problem(url.href, new TransferError(TRANSFER_CODES.PLAYLIST_LOOP, `${job.url.href} references ${url.href}, which leads back to it`))
        continue
      }
      if (!addFile(url, key, ref.kind)) continue
      if (options.onPlaylist) added.push(files.get(key) as FileRef)
      if (!ref.playlist || options.followPlaylists === false) continue
      if (job.depth + 1 > maxDepth) {
        problem(url.href, new TransferError(TRANSFER_CODES.PLAYLIST_TOO_DEEP, `${url.href} is nested deeper than ${maxDepth} playlists`), key)
        continue
      }
      queue.push({ url, key, depth: job.depth + 1, ancestors: lineage })
    }
    if (options.onPlaylist?.(added, { url: job.url.href, media: !parsed.isMaster, endlist: parsed.endlist })) {
      for (const f of added) { files.delete(f.key); taken.add(f.key) }
    }
  }

  addFile(entryUrl, entryKey, 'master')
  const limit = Math.max(1, options.concurrency ?? TRANSFER_DEFAULTS.crawl.concurrency)
  const running = new Set<Promise<void>>()
  let aborted: unknown
  while ((queue.length > 0 && aborted === undefined) || running.size > 0) {
    while (queue.length > 0 && running.size < limit && aborted === undefined) {
      const job = queue.shift() as Job
      // Only an abort rejects; it is kept and rethrown once every fetch in flight has settled.
      const p: Promise<void> = visitPlaylist(job).catch((err: unknown) => { aborted ??= err }).finally(() => running.delete(p))
      running.add(p)
    }
    if (running.size > 0) await Promise.race(running)
  }
  if (aborted !== undefined) throw aborted

  if (entrySkip) return { classId: entry.id, files: [], problems, complete: false, skipReason: entrySkip }
  const result: CrawlResult & { skipReason?: SkipReason } = { classId: entry.id, files: [...files.values()], problems, complete }
  if (!complete && !options.allowIncomplete) result.skipReason = 'recording'
  return result
}
