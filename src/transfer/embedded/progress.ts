// Renders a run's events as NDJSON lines for machines (--json), and counts them into totals for a progress bar
// (progress-bar.ts, loaded only when one is drawn) or a log line. Both just listen to the engine's emitter.
import type { EventEmitter } from 'node:events'
import { formatBytes, formatDuration } from '../../shared/units.ts'
import type { TransferEvents } from '../core/events.ts'

export type ProgressStats = { discovered: number; done: number; bytes: number; retries: number; failed: number; skipped: number; classes: number }

/** Counts events into totals (shared by the bar and tests). */
export function trackProgress(events: EventEmitter<TransferEvents>): ProgressStats {
  const s: ProgressStats = { discovered: 0, done: 0, bytes: 0, retries: 0, failed: 0, skipped: 0, classes: 0 }
  events.on('discovered', (e) => { s.discovered += e.files; s.classes++ })
  events.on('copied', (e) => { s.done++; s.bytes += e.bytes; if (e.skipped) s.skipped++ })
  events.on('retry', () => { s.retries++ })
  events.on('failed', () => { s.failed++; s.done++ })
  return s
}

/**
 * NDJSON progress on `out`: one line per event, `{"type": …, "t": ms since start, …payload}`. Lines are written once
 * per event-loop turn (stdout to a pipe is a blocking write per call: one per copied file cost more main-thread CPU
 * than the journal), and at once for the last event, `done`, and at process exit.
 */
export function attachJsonLines(events: EventEmitter<TransferEvents>, out: NodeJS.WritableStream = process.stdout): void {
  const started = Date.now()
  let pending = ''
  let scheduled = false
  const flush = (): void => {
    scheduled = false
    if (pending === '') return
    const text = pending
    pending = ''
    out.write(text)
  }
  process.once('exit', flush)
  const names: Array<keyof TransferEvents> = ['phase', 'class-start', 'playlist-parsed', 'first-copy', 'class-skipped', 'discovered', 'planned', 'copied', 'retry', 'failed', 'verified', 'class-done', 'done', 'warning', 'cycle', 'concurrency']
  for (const name of names) {
    events.on(name, (payload: unknown) => {
      pending += `${JSON.stringify({ type: name, t: Date.now() - started, ...(name === 'done' ? { report: payload } : payload as object) })}\n`
      if (name === 'done') { flush(); process.off('exit', flush) } else if (pending.length > 1 << 20) flush()
      else if (!scheduled) { scheduled = true; setImmediate(flush) }
    })
  }
}

/** One line for logs when no bar is drawn. */
export function describeProgress(s: ProgressStats, elapsedMs: number): string {
  return `${s.done}/${s.discovered} files, ${formatBytes(s.bytes)}, ${s.retries} retries, ${s.failed} failed, ${formatDuration(elapsedMs)}`
}
