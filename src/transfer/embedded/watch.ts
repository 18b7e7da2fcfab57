// `colony transfer … --watch INTERVAL` without Redis: the embedded engine run again and again on the same journal.
// Each cycle is a resumed run (watch-cycle.ts says what a cycle does differently): it re-reads the catalogs and
// listings, copies new classes, new segments of recording playlists and changed playlists, verifies what it copied,
// and reports. Then it waits INTERVAL and starts over, until the signal stops it. A stop during a cycle leaves the
// journal as any interrupted run does; the same command continues.
import { EventEmitter } from 'node:events'
import { delay } from '../../shared/backoff.ts'
import { formatBytes, formatDuration } from '../../shared/units.ts'
import type { TransferEvents, WatchCycleEvent } from '../core/events.ts'
import type { RunReport } from '../core/types.ts'
import { runTransfer, type TransferOptions } from './engine.ts'
import { WatchCycle } from './watch-cycle.ts'

export type WatchTransferOptions = Omit<TransferOptions, 'watch' | 'dryRun'> & {
  /** Time from the end of one cycle to the start of the next. */
  intervalMs: number
  /** Stop after this many cycles (tests, scripts). @defaultValue until the signal aborts */
  maxCycles?: number
}

/**
 * Runs cycles until `signal` aborts (or `maxCycles` ran) and returns the last cycle's report; rejects with
 * TRANSFER_ABORTED when stopped during a cycle, as runTransfer does. Each cycle emits the run's events and a `cycle`.
 */
export async function watchTransfer(options: WatchTransferOptions): Promise<RunReport | undefined> {
  const events = options.events ?? new EventEmitter<TransferEvents>()
  let copied = 0
  let bytes = 0
  events.on('copied', (e) => { if (!e.skipped) { copied++; bytes += e.bytes } })
  let last: RunReport | undefined
  for (let cycle = 1; !options.signal?.aborted && cycle <= (options.maxCycles ?? Infinity); cycle++) {
    const watch = new WatchCycle()
    copied = 0
    bytes = 0
    const started = Date.now()
    last = await runTransfer({ ...options, events, watch, allowIncomplete: true })
    const t = last.totals
    const line: WatchCycleEvent = {
      cycle, ok: last.ok, copied, bytes, changedPlaylists: watch.changedPlaylists, recording: watch.live,
      classes: t.classes, files: t.files, verified: t.verified, missing: t.missing, ms: Date.now() - started,
      ...(last.filtered ? { filtered: last.filtered.classes } : {}),
    }
    events.emit('cycle', line)
    if (cycle >= (options.maxCycles ?? Infinity)) break
    try { await delay(options.intervalMs, options.signal) } catch { break }
  }
  return last
}

/** One terminal line per cycle. */
export function formatCycle(e: WatchCycleEvent, now = new Date()): string {
  return `watch cycle ${e.cycle} (${now.toISOString().slice(11, 19)}Z, ${formatDuration(e.ms)}): ${e.ok ? 'OK' : 'INCOMPLETE'} · +${e.copied} files (${formatBytes(e.bytes)}, ${e.changedPlaylists} changed playlists) · ` +
    `classes ${e.classes} (${e.recording} recording${e.filtered !== undefined ? `, ${e.filtered} filtered out` : ''}) · files ${e.verified}/${e.files} verified · ${e.missing} missing\n`
}
