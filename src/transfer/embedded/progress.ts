// Renders a run's events: a cli-progress bar on a TTY (files, bytes, rate, ETA, retries, failures), or
// NDJSON lines for machines (--json). Both just listen to the engine's emitter.
import type { EventEmitter } from 'node:events'
import cliProgress from 'cli-progress'
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

/** A progress bar on `stream` until `stop()` is called. */
export async function attachProgressBar(events: EventEmitter<TransferEvents>, stream: NodeJS.WriteStream = process.stderr): Promise<{ stop: () => void }> {
  const { SingleBar, Presets } = cliProgress
  const stats = trackProgress(events)
  const started = Date.now()
  const bar = new SingleBar({
    stream, hideCursor: true, etaBuffer: 200, fps: 5,
    format: ' {bar} {percentage}% | {value}/{total} files | {bytes} | {rate}/s | ETA {eta_formatted} | {retries} retries | {failed} failed | {phase}',
  }, Presets.shades_classic)
  let phase = 'crawl'
  const payload = (): Record<string, unknown> => {
    const secs = Math.max(0.001, (Date.now() - started) / 1000)
    return { bytes: formatBytes(stats.bytes), rate: formatBytes(stats.bytes / secs), retries: stats.retries, failed: stats.failed, phase }
  }
  bar.start(1, 0, payload())
  const refresh = (): void => { bar.setTotal(Math.max(1, stats.discovered)); bar.update(stats.done, payload()) }
  events.on('discovered', refresh)
  events.on('copied', refresh)
  events.on('failed', refresh)
  events.on('retry', refresh)
  events.on('phase', (p) => { phase = p.phase; refresh() })
  return { stop: () => { refresh(); bar.stop() } }
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
