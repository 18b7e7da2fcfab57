// The submit command's follow loop: a progress line on a TTY (or NDJSON with --json) until the run
// finishes; then the report.
import { formatBytes, formatDuration } from '../../shared/units.ts'
import { delay } from '../../shared/backoff.ts'
import type { RunReport } from '../core/types.ts'
import type { Keys } from './redis/keys.ts'
import type { ScriptedRedis } from './redis/scripts.ts'
import { readRunStatus, type RunStatus } from './status.ts'
import { TRANSFER_DEFAULTS } from '../defaults.ts'

export type FollowOptions = {
  json: boolean
  /** Where progress goes. @defaultValue process.stderr */
  out?: NodeJS.WritableStream
  intervalMs?: number
  signal?: AbortSignal
  /** Keep following after the run finishes (--watch runs never finish). @defaultValue false */
  forever?: boolean
}

/** One line: files, bytes, rate, ETA, retries, failures, queue, workers. */
export function formatProgress(s: RunStatus, rate: number): string {
  const t = s.totals
  const left = Math.max(0, t.files - t.verified - t.failed)
  const eta = rate > 0 ? formatDuration((left / rate) * 1000) : '?'
  return `${s.run}: classes ${t.finishedClasses}/${t.classes} · files ${t.verified}/${t.files} · ${formatBytes(t.bytes)} · ${rate.toFixed(0)} files/s · ETA ${eta} · retries ${t.retries} · failed ${t.failed} · queue ${s.queues.copy.length}+${s.queues.retry.length} · workers ${s.workers.length}`
}

export async function followRun(redis: ScriptedRedis, keys: Keys, run: string, options: FollowOptions): Promise<RunReport | undefined> {
  const out = options.out ?? process.stderr
  const tty = (out as { isTTY?: boolean }).isTTY === true
  let last: { at: number; done: number } | undefined
  let rate = 0
  let warned = false
  const started = Date.now()
  while (!options.signal?.aborted) {
    const s = await readRunStatus(redis, keys, run)
    const done = s.totals.verified + s.totals.failed
    const now = Date.now()
    if (last && now > last.at) rate = 0.7 * rate + 0.3 * (((done - last.done) * 1000) / (now - last.at))
    last = { at: now, done }
    if (options.json) out.write(`${JSON.stringify({ type: 'progress', run, state: s.state, ...s.totals, rate: Math.round(rate), queues: s.queues, workers: s.workers.length })}\n`)
    else out.write(tty ? `\r\x1b[K${formatProgress(s, rate)}` : `${formatProgress(s, rate)}\n`)
    if (!warned && s.workers.length === 0 && now - started > 10_000) {
      warned = true
      out.write(`${tty ? '\n' : ''}no worker is running: start some with \`colony transfer worker --redis …\` (or pass --local-worker)\n`)
    }
    if (s.state === 'finished' && s.report && !options.forever) {
      if (tty && !options.json) out.write('\n')
      return s.report
    }
    try { await delay(options.intervalMs ?? (tty ? TRANSFER_DEFAULTS.distributed.followTtyMs : TRANSFER_DEFAULTS.distributed.followLogMs), options.signal) } catch { break }
  }
  return undefined
}
