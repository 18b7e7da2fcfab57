// transfer's part of `colony demo`: a sample origin with a small generated library (and a few catalog entries
// that must NOT be copied), copied with the embedded engine, progress shown, report written, paths to look at.
import { EventEmitter } from 'node:events'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { formatBytes, formatDuration } from '../shared/units.ts'
import { runTransfer } from '../transfer/embedded/engine.ts'
import type { TransferEvents } from '../transfer/core/events.ts'
import { attachJsonLines, describeProgress, trackProgress } from '../transfer/embedded/progress.ts'
import { formatSummary } from '../transfer/core/report.ts'
import { generateSampleLibrary, startSampleOrigin, type SampleOriginFaults } from './transfer-sample/index.ts'

export type TransferDemoOptions = {
  /** Where the copy goes. @defaultValue './colony-demo' */
  outDir: string
  /** Receives every output line. @defaultValue a writer to stderr */
  log?: (line: string) => void
  /** NDJSON progress events (one per line, through `log`) instead of human lines. @defaultValue false */
  json?: boolean
  /** Faults the sample origin injects, to show retries at work. @defaultValue 3% 5xx + 1% resets, at most one per file */
  faults?: SampleOriginFaults
  /** Classes in the sample library. @defaultValue 4 */
  classes?: number
}

const MILD_FAULTS: SampleOriginFaults = { errorRate: 0.03, resetRate: 0.01, maxFaultsPerPath: 1 }

/** Runs the transfer demo end to end; resolves with the run's report (ok = every file verified). */
export async function runTransferDemo(options: TransferDemoOptions): Promise<{ ok: boolean; report: unknown }> {
  const log = options.log ?? ((line: string) => { process.stderr.write(`${line}\n`) })
  const outDir = path.resolve(options.outDir || './colony-demo')
  const say = (line: string): void => { if (!options.json) log(line) }
  const library = generateSampleLibrary({ classes: options.classes ?? 4, varied: true, defaults: { segments: 12, segmentSeconds: 2 } })
  const faults = options.faults ?? MILD_FAULTS
  const origin = await startSampleOrigin({ library, faults })
  const state = await mkdtemp(path.join(os.tmpdir(), 'colony-demo-state-'))
  const events = new EventEmitter<TransferEvents>()
  let ticker: NodeJS.Timeout | undefined
  try {
    const expected = library.transferableFiles()
    const skipped = library.classes.filter((c) => !c.transferable)
    say('colony demo · transfer: copy an HLS library and prove nothing was left behind')
    say(`  sample origin  ${origin.url}  (generated: ${library.classes.length - skipped.length} classes, ${expected.length} files, ${formatBytes(expected.reduce((a, f) => a + f.size, 0))}; synthetic bytes, not playable)`)
    say(`  catalog        ${origin.url}/catalog.json  (${library.classes.length} entries; ${skipped.length} must be skipped: ${skipped.map((c) => `${c.id} → ${c.reason ?? '?'}`).join(', ')})`)
    const rates = [faults.errorRate ? `${Math.round(faults.errorRate * 100)}% 5xx` : '', faults.resetRate ? `${Math.round(faults.resetRate * 100)}% connection resets` : ''].filter(Boolean)
    if (rates.length) say(`  faults         the origin fails ${rates.join(' and ')} on purpose; watch the retries`)
    say(`  destination    ${outDir}`)
    say('')
    await mkdir(outDir, { recursive: true })
    if (options.json) {
      attachJsonLines(events, new Writable({ write(chunk: Buffer, _enc, cb) { for (const l of chunk.toString().split('\n')) if (l) log(l); cb() } }))
    } else {
      const stats = trackProgress(events)
      const started = Date.now()
      ticker = setInterval(() => { log(`  … ${describeProgress(stats, Date.now() - started)}`) }, 1000)
      ticker.unref()
      events.on('class-skipped', (e) => { log(`  skipped ${e.classId} (${e.reason}): ${e.message}`) })
      events.on('class-done', (c) => { if (c.state !== 'skipped') log(`  ${c.state === 'verified' ? 'verified' : c.state} ${c.id}: ${c.verified}/${c.files} files, ${formatBytes(c.bytes)}, ${c.retries} retries`) })
    }
    const t0 = Date.now()
    const report = await runTransfer({ sources: [], catalogs: [`${origin.url}/catalog.json`], to: outDir, stateDir: state, events })
    if (ticker) clearInterval(ticker)
    const reportFile = path.join(outDir, 'colony-transfer-report.json')
    await writeFile(reportFile, `${JSON.stringify(report, null, 2)}\n`)
    say('')
    for (const line of formatSummary(report).trimEnd().split('\n')) say(line)
    say('')
    say(`  origin served ${origin.stats.requests} requests (${Object.entries(origin.stats.faults).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(', ') || 'no faults'}) in ${formatDuration(Date.now() - t0)}`)
    const first = library.classes.find((c) => c.transferable)
    say('  where to look:')
    if (first) say(`    ${path.join(outDir, first.master)}   a copied master playlist (same path as on the origin)`)
    say(`    ${reportFile}   the per-class report (files, bytes, retries, skips and their reasons)`)
    say(`  next: colony transfer <master.m3u8 URL | catalog.json | s3://bucket/prefix | dir> --to <dir | s3://bucket/prefix>`)
    return { ok: report.ok, report }
  } finally {
    if (ticker) clearInterval(ticker)
    await origin.stop()
    await rm(state, { recursive: true, force: true })
  }
}
