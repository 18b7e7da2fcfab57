// Every Redis key the distributed engine touches, in one place, so memory accounting and cleanup can
// enumerate them. Queues are shared by all runs under a prefix (a worker serves every active run);
// state is per run and per class. No key per file: per-file state lives in per-class bitmaps.

/** Queue (stream) names under a prefix. */
export type QueueName = 'scan' | 'crawl' | 'copy' | 'retry'

export const QUEUE_GROUPS: Record<QueueName, string> = {
  scan: 'scanners',
  crawl: 'crawlers',
  copy: 'copiers',
  retry: 'copiers',
}

export type Keys = ReturnType<typeof createKeys>

/** Builds the key names for a prefix (default "colony:transfer"). */
export function createKeys(prefix: string) {
  const run = (r: string): string => `${prefix}:run:${r}`
  return {
    prefix,
    /** Set of every run name ever submitted. */
    runs: `${prefix}:runs`,
    /** Set of runs workers should serve (removed when a non-watch run finishes). */
    active: `${prefix}:active`,
    /** Hash: worker id → JSON heartbeat, for status. */
    workers: `${prefix}:workers`,
    queue: (q: QueueName): string => `${prefix}:q:${q}`,
    /** Lock of the hourly clean-up of dead consumers and worker heartbeats. */
    housekeeping: `${prefix}:lock:housekeeping`,
    /** Hash: config JSON, state, timestamps, scan generation. */
    meta: (r: string): string => `${run(r)}:meta`,
    /** Hash: class id → JSON ClassRecord (source, catalog status, state, skip reason). */
    classes: (r: string): string => `${run(r)}:classes`,
    /** Hash: class id → number of files known (grows on re-crawl). */
    count: (r: string): string => `${run(r)}:count`,
    /** Hash: class id → next file index to be put in a batch (the crawler's resumable cursor). */
    cursor: (r: string): string => `${run(r)}:cursor`,
    /** Hashes: class id → bytes copied / retries / files skipped because already present / playlists stored rewritten. */
    bytes: (r: string): string => `${run(r)}:bytes`,
    retries: (r: string): string => `${run(r)}:retries`,
    skipped: (r: string): string => `${run(r)}:skipped`,
    rewritten: (r: string): string => `${run(r)}:rewritten`,
    /** Hash: class id → change counter, so the dashboard re-reads only classes that moved. */
    version: (r: string): string => `${run(r)}:version`,
    /** Hash: run-wide counters (files, bytes, retries, failures) for rates. */
    stats: (r: string): string => `${run(r)}:stats`,
    /** Bitmaps: bit i = file i verified at the destination / failed for good. */
    done: (r: string, c: string): string => `${run(r)}:c:${c}:done`,
    failed: (r: string, c: string): string => `${run(r)}:c:${c}:fail`,
    /** String: 4 bytes per file, a hash of the origin's (etag, size), kept only in --watch runs. */
    fingerprint: (r: string, c: string): string => `${run(r)}:c:${c}:fp`,
    /** List of deflated chunks: the class's file list (index → source, key, kind). */
    files: (r: string, c: string): string => `${run(r)}:c:${c}:files`,
    /** Hash: file index (or "crawl:<n>") → JSON problem, only for files that failed. */
    problems: (r: string, c: string): string => `${run(r)}:c:${c}:problems`,
    /** The final report JSON. */
    report: (r: string): string => `${run(r)}:report`,
    /** String: a --bwlimit / --max-rps token bucket's TAT in µs (name: bytes or requests), shared by every worker. */
    limit: (r: string, name: 'bytes' | 'requests'): string => `${run(r)}:limit:${name}`,
    /** Short locks (SET NX PX). */
    lock: (r: string, name: string): string => `${run(r)}:lock:${name}`,
  }
}

/** Group consumers read a queue with this group name. */
export function groupOf(q: QueueName): string {
  return QUEUE_GROUPS[q]
}
