// The slice of transfer's core the distributed roles call. Implemented by core-adapter.ts over the
// shared crawler/copy/verify (and by support/transfer-synthetic.ts for tests and benchmarks), so the roles stay transport-only.
import type { ClassEntry, CopyOutcome, CrawlResult, FileRef, SkipReason } from '../core/types.ts'

/** A class found by scanning a source, with the scanner's verdict. */
export type ScanItem = {
  entry: ClassEntry
  skip?: { reason: SkipReason; message: string }
  /** The scan vouched for the class's own host (typed by the user, or listed in a local catalog). */
  trusted?: boolean
}

export interface DistributedCore {
  /** Expands one source (catalog, playlist URL, s3 prefix, directory) into classes, validating each. */
  scan(source: string, inlineText: string | undefined, options: { watch: boolean; signal: AbortSignal }): Promise<ScanItem[]>
  /** Crawls one class into its deduplicated file list. Throws for a class that cannot be crawled at all. */
  crawl(entry: ClassEntry, options: { signal: AbortSignal; trustHost?: boolean }): Promise<CrawlResult>
  /** One attempt at copying AND verifying one file at the destination. Never throws. */
  copy(ref: FileRef, options: { signal: AbortSignal }): Promise<CopyOutcome>
  /** Whether re-crawling a finished class in a --watch cycle reveals changed files (listings, or HEADs of an HTTP class's files). */
  listable(entry: ClassEntry): boolean
  close(): Promise<void>
}
