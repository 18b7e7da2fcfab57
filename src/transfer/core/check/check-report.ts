// The report of `colony transfer check`: per class what is missing, differs or is extra at the destination, with
// exact counts and the first items of each class (every item is also streamed as it is found, see CheckItem).
import { formatDuration } from '../../../shared/units.ts'
import type { SkipReason } from '../types.ts'
import { REFUSAL_REASONS } from '../report.ts'
import { TRANSFER_DEFAULTS } from '../../defaults.ts'

/** One finding. `error`: the source side could not be read (a referenced file or playlist absent at the origin…). */
export type CheckItem = {
  classId: string
  type: 'missing' | 'differs' | 'extra' | 'error'
  key: string
  source?: string
  /** For differs: what differs. */
  reason?: 'size' | 'checksum'
  code?: string
  message: string
}

export type CheckCounts = { files: number; same: number; missing: number; differs: number; extra: number; errors: number }

export type CheckClassReport = CheckCounts & {
  id: string
  source: string
  /** The destination key prefix the class lives under ('' = the destination root); extra files are looked for there. */
  prefix: string
  state: 'identical' | 'differs' | 'skipped'
  skipReason?: SkipReason
  skipMessage?: string
  /** The first findings (TRANSFER_DEFAULTS.check.maxItemsPerClass); `more` counts the rest. */
  items: CheckItem[]
  more: number
}

export type CheckReport = {
  destination: string
  /** Whether bodies were hashed (--checksum). */
  checksum: boolean
  startedAt: string
  finishedAt: string
  /** True when nothing is missing, differs, is extra or failed to read, and no class was refused. */
  identical: boolean
  totals: CheckCounts & { classes: number; skippedClasses: number }
  classes: CheckClassReport[]
}

/** A class report to fill in. */
export function emptyClassReport(id: string, source: string, prefix: string): CheckClassReport {
  return { id, source, prefix, state: 'identical', files: 0, same: 0, missing: 0, differs: 0, extra: 0, errors: 0, items: [], more: 0 }
}

const COUNTER = { missing: 'missing', differs: 'differs', extra: 'extra', error: 'errors' } as const

/** Counts a finding in its class and keeps it while the class holds fewer than `max`. */
export function addItem(c: CheckClassReport, item: CheckItem, max = TRANSFER_DEFAULTS.check.maxItemsPerClass): void {
  c[COUNTER[item.type]]++
  if (c.items.length < max) c.items.push(item)
  else c.more++
}

/** Sets a class's state from its counts; a skipped class keeps its state. */
export function settleClass(c: CheckClassReport): CheckClassReport {
  if (c.state !== 'skipped') c.state = c.missing + c.differs + c.extra + c.errors === 0 ? 'identical' : 'differs'
  return c
}

export function buildCheckReport(input: { destination: string; checksum: boolean; startedAt: string; classes: CheckClassReport[] }): CheckReport {
  const totals = { classes: input.classes.length, skippedClasses: 0, files: 0, same: 0, missing: 0, differs: 0, extra: 0, errors: 0 }
  let refused = false
  for (const c of input.classes) {
    if (c.state === 'skipped') {
      totals.skippedClasses++
      if (c.skipReason && REFUSAL_REASONS.has(c.skipReason)) refused = true
    }
    for (const k of ['files', 'same', 'missing', 'differs', 'extra', 'errors'] as const) totals[k] += c[k]
  }
  const identical = !refused && totals.missing + totals.differs + totals.extra + totals.errors === 0
  return { destination: input.destination, checksum: input.checksum, startedAt: input.startedAt, finishedAt: new Date().toISOString(), identical, totals, classes: input.classes }
}

/** Terminal summary: verdict, totals, then each class that is not identical with its first findings. */
export function formatCheckSummary(report: CheckReport, options: { maxShown?: number } = {}): string {
  const t = report.totals
  const ms = Date.parse(report.finishedAt) - Date.parse(report.startedAt)
  const lines = [
    `${report.identical ? 'IDENTICAL' : 'DIFFERS'} — ${report.destination}${report.checksum ? ' (checksums)' : ''}`,
    `  classes ${t.classes} (${t.skippedClasses} skipped) · files ${t.same}/${t.files} same · ${t.missing} missing · ${t.differs} differ · ${t.extra} extra · ${t.errors} unreadable at the source · ${formatDuration(ms)}`,
  ]
  const max = options.maxShown ?? TRANSFER_DEFAULTS.report.maxMissingShown
  let shown = 0
  let hidden = 0
  for (const c of report.classes) {
    if (c.state === 'identical') continue
    if (c.state === 'skipped') {
      lines.push(`  skipped ${c.id}${c.skipReason ? ` (${c.skipReason})` : ''}${c.skipMessage ? `: ${c.skipMessage}` : ''}`)
      continue
    }
    lines.push(`  differs ${c.id}: ${c.same}/${c.files} same, ${c.missing} missing, ${c.differs} differ, ${c.extra} extra, ${c.errors} unreadable`)
    for (const item of c.items) {
      if (shown >= max) { hidden++; continue }
      shown++
      const what = item.type === 'differs' ? item.message : item.type === 'error' ? `${item.key || item.source || ''}: ${item.message}` : item.key
      lines.push(`    ${item.type.padEnd(7)} ${what}`)
    }
    hidden += c.more
  }
  if (hidden > 0) lines.push(`  … ${hidden} more (see --report or --json)`)
  return lines.join('\n') + '\n'
}
