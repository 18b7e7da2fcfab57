// Queue payloads, kept short: they live in Redis only while queued (settled entries are XDEL'd).

/** Scan one source of a run (generation `g`: 1 at submit, +1 per --watch re-scan). */
export type ScanJob = { r: string; src: number; g: number }

/** Crawl one class. */
export type CrawlJob = { r: string; c: string; g: number }

/**
 * Copy files of one class: the range [s, e) or the explicit indices `i`; attempt `a` (0 = first);
 * `nb` = not before (epoch ms), for retries with backoff / Retry-After.
 */
export type CopyJob = {
  r: string; c: string; s?: number; e?: number; i?: number[]; a: number; nb?: number
  /** Files changed at the origin (--watch): their new fingerprints, parallel to `i`; the stored validators are stale. */
  x?: number[]
}

export function indicesOf(job: CopyJob): number[] {
  if (job.i) return job.i
  const out: number[] = []
  for (let k = job.s ?? 0; k < (job.e ?? 0); k++) out.push(k)
  return out
}
