// A cli-progress bar (files, bytes, rate, ETA, retries, failures) fed by the engine's events: on a TTY, or as lines
// wherever --progress asks for one. Its own module: the CLI imports it only when it draws a bar, so a run without
// one never loads cli-progress and its twenty modules.
import type { EventEmitter } from 'node:events'
import cliProgress from 'cli-progress'
import { formatBytes } from '../../shared/units.ts'
import type { TransferEvents } from '../core/events.ts'
import { trackProgress } from './progress.ts'

/** A progress bar on `stream` until `stop()` is called. */
export async function attachProgressBar(events: EventEmitter<TransferEvents>, stream: NodeJS.WriteStream = process.stderr): Promise<{ stop: () => void }> {
  const { SingleBar, Presets } = cliProgress
  const stats = trackProgress(events)
  const started = Date.now()
  const bar = new SingleBar({
    stream, hideCursor: true, etaBuffer: 200, fps: 5,
    // Asked for without a TTY (--progress into a log): a line every notTTYSchedule ms and one at the end.
    noTTYOutput: stream.isTTY !== true, notTTYSchedule: 2000,
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
