import type { LimitChange } from './limits/adaptive-limit.ts'
import type { ClassReport, FileKind, RunReport, SkipReason } from './types.ts'

/** The end of one --watch cycle of the embedded engine: what it copied, and the run's totals after it. */
export type WatchCycleEvent = {
  cycle: number; ok: boolean
  /** Files copied in this cycle (not counting files found already there), and their bytes. */
  copied: number; bytes: number
  /** Playlists copied again because their text changed. */
  changedPlaylists: number
  /** Classes with media playlists still without EXT-X-ENDLIST. */
  recording: number
  classes: number; files: number; verified: number; missing: number
  /** Classes left out by --include-class / --exclude-class. */
  filtered?: number
  ms: number
}

/** Progress events of a run; the CLI renders them (bar or NDJSON), the distributed engine forwards them. */
export type TransferEvents = {
  'class-start': [{ classId: string; source: string }]
  'class-skipped': [{ classId: string; source: string; reason: SkipReason; message: string }]
  /** A playlist was read and parsed (`files`: what it added to its class); the first one starts the copy clock. */
  'playlist-parsed': [{ classId: string; url: string; files: number; media: boolean }]
  /** The run's first file was handed to a copier (once per run): with 'playlist-parsed', the crawl-to-copy delay. */
  'first-copy': [{ classId: string; key: string }]
  discovered: [{ classId: string; files: number; bytes: number; problems: number }]
  /** --dry-run: a file that would be copied. */
  planned: [{ classId: string; key: string; source: string; size?: number; kind: FileKind }]
  copied: [{ classId: string; key: string; bytes: number; skipped: boolean; kind?: FileKind }]
  retry: [{ classId: string; key: string; attempt: number; code: string; message: string; delayMs: number }]
  failed: [{ classId: string; key: string; code: string; message: string }]
  verified: [{ files: number; failed: number }]
  'class-done': [ClassReport]
  phase: [{ phase: 'crawl' | 'copy' | 'verify' | 'report' }]
  done: [RunReport]
  warning: [{ message: string; code?: string }]
  /** --watch (embedded): a cycle ended. */
  cycle: [WatchCycleEvent]
  /** `--concurrency auto` moved the copies in flight (core/limits/adaptive-limit.ts). */
  concurrency: [LimitChange]
}
