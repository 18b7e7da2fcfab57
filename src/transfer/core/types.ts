// The data transfer's core works on: files, classes, crawl results, copy outcomes and reports. Shared by the core,
// its adapters and both engines (embedded and distributed). The interfaces adapters implement are in ports.ts.

/** What a file is to HLS; drives Content-Type fallbacks and report grouping. */
export type FileKind = 'master' | 'media' | 'segment' | 'init' | 'key' | 'part' | 'session-data' | 'object'

/** A file to copy, as discovered by a crawler or a lister. Identified by `key` within its class. */
export type FileRef = {
  /** Where to read it: an http(s) URL, `s3://bucket/key`, or an absolute `file://` URL. */
  source: string
  /** Destination key relative to the destination root/prefix (already safe: no `..`, no leading `/`). */
  key: string
  kind: FileKind
  /** Size when the lister knows it (S3/dir listings, HEAD); crawled files learn it on copy. */
  size?: number
  /** Origin validator (ETag or mtime-size) when known; used to skip unchanged files and detect changes. */
  etag?: string
}

/** A unit of work and of reporting: one HLS master (a "class"), one S3 prefix, or one directory. */
export type ClassEntry = {
  id: string
  /** Master/media playlist URL, `s3://bucket/prefix/`, or a `file://` directory URL. */
  source: string
  /** Catalog status, when the catalog gives one (e.g. "ready", "recording", "aborted", "test"). */
  status?: string
}

/** Why a class is not transferred at all. */
export type SkipReason = 'aborted' | 'test' | 'recording' | 'playlist-missing' | 'invalid-entry' | 'not-a-playlist' | 'hostile-playlist' | 'forbidden-host' | 'too-large'

/** The result of crawling one class. `files` is deduplicated by key. */
export type CrawlResult = {
  classId: string
  files: FileRef[]
  /** Referenced files the crawler could not even fetch as playlists, or that a listing proved missing. */
  problems: Array<{ source: string; key?: string; code: string; message: string }>
  /** True when every media playlist has EXT-X-ENDLIST (VOD / finished recording). */
  complete: boolean
  /** Set when the class is not transferred at all (entry playlist missing, not a playlist, recording…). */
  skipReason?: SkipReason
}

/** Lifecycle of a file; the journal keeps the latest. */
export type FileState = 'pending' | 'copied' | 'verified' | 'skipped-present' | 'failed' | 'missing'

/** The outcome of one copy attempt, as the core reports it to an engine. */
export type CopyOutcome =
  | { ok: true; key: string; bytes: number; etag?: string; skipped: boolean; md5?: string; contentType?: string; rewritten?: boolean }
  | { ok: false; key: string; code: string; message: string; retryable: boolean; retryAfterMs?: number }

/** Per-class totals in a report. */
export type ClassReport = {
  id: string
  source: string
  /** planned: a --dry-run found nothing wrong with the class. */
  state: 'verified' | 'incomplete' | 'skipped' | 'failed' | 'planned'
  skipReason?: SkipReason
  /** Why a skipped class was skipped, in words. */
  skipMessage?: string
  files: number
  verified: number
  bytes: number
  retries: number
  missing: Array<{ key: string; source: string; code: string; message: string }>
  /** How many files are missing when `missing` lists only the first ones (the --report file names them all). */
  missingTotal?: number
}

export type RunReport = {
  /** Present and true for a --dry-run (nothing was copied). */
  dryRun?: boolean
  run: string
  destination: string
  startedAt: string
  finishedAt: string
  ok: boolean
  totals: { classes: number; files: number; verified: number; skippedPresent: number; bytes: number; retries: number; missing: number; skippedClasses: number
    /** Playlists whose URIs --rewrite-uri changed (present when rules were given). */
    rewrittenPlaylists?: number }
  /** Present when --include-class / --exclude-class were given: classes they left out (not in `classes`) and the globs. */
  filtered?: { classes: number; include: string[]; exclude: string[] }
  classes: ClassReport[]
  /** Copies in flight: pinned (--concurrency N) or adaptive, with the lowest and highest limit the run used. */
  concurrency?: { mode: 'auto' | 'fixed'; limit: number; lowest?: number; highest?: number }
}
