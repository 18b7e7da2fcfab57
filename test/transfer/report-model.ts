// The in-memory report model, kept as a test oracle: it builds a run report from every file row of every class,
// which the embedded engine's SQL report (src/transfer/embedded/journal-report.ts) must equal on the same journal.
// Also the journal row dumps the journal tests compare against.
import type { ClassReport, FileState, RunReport, SkipReason } from '../../src/transfer/core/types.ts'
import { classPassed } from '../../src/transfer/core/report.ts'
import type { Journal, JournalFile } from '../../src/transfer/embedded/journal.ts'

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


/** Files still to copy (pending, failed or missing), in journal order. */
export function filesToCopy(j: Journal): JournalFile[] {
  return j.statement("SELECT * FROM files WHERE state IN ('pending', 'failed', 'missing') ORDER BY rowid").all() as JournalFile[]
}

/** Files copied or found present, not yet verified. */
export function filesToVerify(j: Journal): JournalFile[] {
  return j.statement("SELECT * FROM files WHERE state IN ('copied', 'skipped-present') ORDER BY rowid").all() as JournalFile[]
}

/** Every file a class references (own and shared), with its state. */
export function classFiles(j: Journal, classId: string): JournalFile[] {
  return j.statement('SELECT * FROM files WHERE class_id = ?1 UNION ALL SELECT f.* FROM shared s JOIN files f ON f.key = s.key WHERE s.class_id = ?1').all(classId) as JournalFile[]
}

export function classProblems(j: Journal, classId: string): Array<{ source: string; key: string | null; code: string; message: string }> {
  return j.statement('SELECT source, key, code, message FROM problems WHERE class_id = ?').all(classId) as Array<{ source: string; key: string | null; code: string; message: string }>
}
