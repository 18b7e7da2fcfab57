// Turns per-file states into the per-class report (JSON for --report, a few lines for the terminal).
// Journal-free, so the distributed engine builds the same report from its own store.
import { formatBytes, formatDuration } from '../../shared/units.ts'
import type { ClassReport, FileState, RunReport, SkipReason } from './types.ts'
import { TRANSFER_DEFAULTS } from '../defaults.ts'

export type ReportFile = {
  key: string; source: string; state: FileState; size: number | null; attempts: number
  code?: string | null; message?: string | null
  /** Found already at the destination (skipped-present, later verified). */
  present?: number | boolean
  /** --rewrite-uri changed this playlist. */
  rewritten?: number | boolean
}

export type ReportClassInput = {
  id: string
  source: string
  skipReason?: SkipReason | null
  skipMessage?: string | null
  files: ReportFile[]
  problems: Array<{ source: string; key?: string | null; code: string; message: string }>
}

export type BuildReportInput = {
  /** A --dry-run: pending files are planned, not missing. */
  dryRun?: boolean
  /** --rewrite-uri rules were given: totals count the rewritten playlists. */
  rewriting?: boolean
  run: string; destination: string; startedAt: string; finishedAt?: string; classes: ReportClassInput[]
  /** Classes the class filter left out, and its globs. */
  filtered?: RunReport['filtered'] }

/**
 * Skip reasons that refuse hostile input (a host or scheme not allowed, a playlist escaping its root or with
 * impossible byte ranges) rather than set a class aside on purpose: such a class makes the run fail (exit 1).
 */
export const REFUSAL_REASONS: ReadonlySet<SkipReason> = new Set<SkipReason>(['forbidden-host', 'hostile-playlist'])

/** Whether a class leaves the run ok: verified, planned, or skipped for a reason other than a refusal. */
export function classPassed(c: Pick<ClassReport, 'state' | 'skipReason'>): boolean {
  if (c.state === 'skipped') return c.skipReason === undefined || !REFUSAL_REASONS.has(c.skipReason)
  return c.state === 'verified' || c.state === 'planned'
}

export function buildClassReport(c: ReportClassInput, options: { dryRun?: boolean } = {}): ClassReport & { skippedPresent: number } {
  if (c.skipReason) {
    return {
      id: c.id, source: c.source, state: 'skipped', skipReason: c.skipReason, files: 0, verified: 0, bytes: 0, retries: 0, skippedPresent: 0,
      missing: c.problems.map((p) => ({ key: p.key ?? '', source: p.source, code: p.code, message: p.message })),
      ...(c.skipMessage ? { skipMessage: c.skipMessage } : {}),
    }
  }
  let verified = 0
  let bytes = 0
  let retries = 0
  let skippedPresent = 0
  const missing: ClassReport['missing'] = []
  const seen = new Set<string>()
  for (const f of c.files) {
    retries += Math.max(0, f.attempts - 1)
    if (options.dryRun && f.state === 'pending') {
      bytes += f.size ?? 0
    } else if (f.state === 'verified') {
      verified++
      bytes += f.size ?? 0
      if (f.present) skippedPresent++
    } else {
      missing.push({ key: f.key, source: f.source, code: f.code ?? `TRANSFER_${f.state.toUpperCase().replace(/-/g, '_')}`, message: f.message ?? `${f.key} is ${f.state}` })
    }
    seen.add(f.key)
  }
  for (const p of c.problems) {
    missing.push({ key: p.key ?? '', source: p.source, code: p.code, message: p.message })
  }
  const state: ClassReport['state'] = missing.length === 0 ? (options.dryRun ? 'planned' : 'verified') : verified > 0 ? 'incomplete' : 'failed'
  return { id: c.id, source: c.source, state, files: c.files.length, verified, bytes, retries, skippedPresent, missing }
}

export function buildReport(input: BuildReportInput): RunReport {
  const classes = input.classes.map((c) => buildClassReport(c, { dryRun: input.dryRun ?? false }))
  // Totals count each file once, however many classes share it (class lines count it in each).
  const totals: RunReport['totals'] = { classes: classes.length, files: 0, verified: 0, skippedPresent: 0, bytes: 0, retries: 0, missing: 0, skippedClasses: 0, ...(input.rewriting ? { rewrittenPlaylists: 0 } : {}) }
  const seen = new Set<string>()
  const missing = new Set<string>()
  input.classes.forEach((c, i) => {
    const report = classes[i]
    if (report?.state === 'skipped') { totals.skippedClasses++; return }
    for (const f of c.files) {
      if (seen.has(f.key)) continue
      seen.add(f.key)
      totals.files++
      totals.retries += Math.max(0, f.attempts - 1)
      if (f.rewritten && totals.rewrittenPlaylists !== undefined) totals.rewrittenPlaylists++
      if (f.state === 'verified') {
        totals.verified++
        totals.bytes += f.size ?? 0
        if (f.present) totals.skippedPresent++
      } else if (input.dryRun && f.state === 'pending') {
        totals.bytes += f.size ?? 0
      }
    }
    for (const m of report?.missing ?? []) missing.add(`${m.key}\0${m.source}\0${m.code}`)
  })
  totals.missing = missing.size
  const ok = classes.every(classPassed)
  return { ...(input.dryRun ? { dryRun: true } : {}), run: input.run, destination: input.destination, startedAt: input.startedAt, finishedAt: input.finishedAt ?? new Date().toISOString(), ok, totals, ...(input.filtered ? { filtered: input.filtered } : {}), classes }
}

/** A terminal summary: totals, then one line per class that is not fully verified, then the missing files. */
export function formatSummary(report: RunReport, options: { maxMissing?: number } = {}): string {
  const t = report.totals
  const ms = Date.parse(report.finishedAt) - Date.parse(report.startedAt)
  const lines = [
    `${report.dryRun ? 'DRY RUN' : report.ok ? 'OK' : 'INCOMPLETE'} — run ${report.run} → ${report.destination}`,
    `  classes ${t.classes} (${t.skippedClasses} skipped${report.filtered ? `, ${report.filtered.classes} filtered out` : ''}) · files ${t.verified}/${t.files} verified (${t.skippedPresent} already present) · ${formatBytes(t.bytes)} · ${t.retries} retries · ${t.missing} missing${t.rewrittenPlaylists !== undefined ? ` · ${t.rewrittenPlaylists} playlists rewritten` : ''} · ${formatDuration(ms)}`,
  ]
  const max = options.maxMissing ?? TRANSFER_DEFAULTS.report.maxMissingShown
  let shown = 0
  for (const c of report.classes) {
    if (c.state === 'verified' || c.state === 'planned') continue
    if (c.state === 'skipped') {
      lines.push(`  skipped ${c.id}${c.skipReason ? ` (${c.skipReason})` : ''}${c.skipMessage ? `: ${c.skipMessage}` : ''}`)
      continue
    }
    const missing = c.missingTotal ?? c.missing.length
    lines.push(`  ${c.state} ${c.id}: ${c.verified}/${c.files} verified${missing ? `, ${missing} missing` : ''}`)
    for (const m of c.missing) {
      if (shown++ >= max) break
      lines.push(`    ${m.code} ${m.key || m.source}: ${m.message}`)
    }
  }
  if (shown > max) lines.push(`  … ${shown - max} more missing (see --report)`)
  const c = report.concurrency
  if (c?.mode === 'auto') lines.push(`  concurrency auto: ${c.limit} copies in flight at the end (${c.lowest}–${c.highest} during the run)`)
  return lines.join('\n') + '\n'
}
