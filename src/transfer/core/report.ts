// What both engines' reports share: whether a class leaves the run ok, and the terminal summary of a report.
// Each engine builds its report from its own store (the embedded journal's SQL, the distributed Redis state).
import { formatBytes, formatDuration } from '../../shared/units.ts'
import type { ClassReport, RunReport, SkipReason } from './types.ts'
import { TRANSFER_DEFAULTS } from '../defaults.ts'

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
