// The embedded engine's run report, from SQL aggregates over the journal: per class, counts and bytes by state and
// the first missing files; totals count each file once however many classes reference it. Memory holds one line per
// class and at most TRANSFER_DEFAULTS.report.maxMissingPerClass missing files of each, never the files themselves.
// The --report file names every missing file: it is written as a stream, class by class, straight from the journal.
import { createWriteStream } from 'node:fs'
import { once } from 'node:events'
import type { ClassReport, RunReport } from '../core/types.ts'
import { classPassed } from '../core/report.ts'
import { TRANSFER_DEFAULTS } from '../defaults.ts'
import type { Journal } from './journal.ts'

type Missing = ClassReport['missing'][number]

// A class's files: the ones it owns and the ones it links to (owned by the class that found them first).
const CLASS_FILES = 'SELECT key, source, state, size, attempts, present, code, message FROM files WHERE class_id = ?1 UNION ALL SELECT f.key, f.source, f.state, f.size, f.attempts, f.present, f.code, f.message FROM shared s JOIN files f ON f.key = s.key WHERE s.class_id = ?1'
// A file counts as done when verified, or planned (still pending) in a dry run (?2 = 1).
const DONE = "(state = 'verified' OR (?2 AND state = 'pending'))"
const CODE = "COALESCE(code, 'TRANSFER_' || upper(replace(state, '-', '_')))"
const CLASS_SUMMARY = `SELECT COUNT(*) AS files, COALESCE(SUM(state = 'verified'), 0) AS verified, COALESCE(SUM(CASE WHEN ${DONE} THEN COALESCE(size, 0) ELSE 0 END), 0) AS bytes,
  COALESCE(SUM(MAX(0, attempts - 1)), 0) AS retries, COALESCE(SUM(state = 'verified' AND present), 0) AS skippedPresent, COALESCE(SUM(NOT ${DONE}), 0) AS missing FROM (${CLASS_FILES})`
const CLASS_MISSING = `SELECT key, source, ${CODE} AS code, COALESCE(message, key || ' is ' || state) AS message FROM (${CLASS_FILES}) WHERE NOT ${DONE}
  UNION ALL SELECT COALESCE(key, ''), source, code, message FROM problems WHERE class_id = ?1`
const PROBLEMS = 'SELECT COUNT(*) AS n FROM problems WHERE class_id = ?'
const SKIPPED_MISSING = "SELECT COALESCE(key, '') AS key, source, code, message FROM problems WHERE class_id = ?"
// Every key of a class that is not skipped, once.
const RUN_KEYS = 'SELECT f.key FROM files f JOIN classes c ON c.id = f.class_id WHERE c.skip_reason IS NULL UNION SELECT s.key FROM shared s JOIN classes c ON c.id = s.class_id WHERE c.skip_reason IS NULL'
const TOTALS = `SELECT COUNT(*) AS files, COALESCE(SUM(state = 'verified'), 0) AS verified, COALESCE(SUM(state = 'verified' AND present), 0) AS skippedPresent,
  COALESCE(SUM(CASE WHEN ${DONE} THEN COALESCE(size, 0) ELSE 0 END), 0) AS bytes, COALESCE(SUM(MAX(0, attempts - 1)), 0) AS retries, COALESCE(SUM(rewritten), 0) AS rewritten FROM (${RUN_KEYS}) k JOIN files USING (key)`
const TOTAL_MISSING = `SELECT COUNT(*) AS n FROM (SELECT key, source, ${CODE} FROM (${RUN_KEYS}) k JOIN files USING (key) WHERE NOT ${DONE}
  UNION SELECT COALESCE(p.key, ''), p.source, p.code FROM problems p JOIN classes c ON c.id = p.class_id WHERE c.skip_reason IS NULL)`

export type JournalReportInput = {
  dryRun: boolean; run: string; destination: string; startedAt: string; maxMissing?: number
  /** --rewrite-uri rules were given: totals count the rewritten playlists. */
  rewriting?: boolean
  /** Classes the class filter left out, and its globs. */
  filtered?: RunReport['filtered']
}

/** Every missing file of a class (unverified files, then problems), read from the journal one row at a time. */
export function classMissing(journal: Journal, classId: string, dryRun: boolean): Iterable<Missing> {
  return journal.statement(CLASS_MISSING).iterate(classId, dryRun ? 1 : 0) as Iterable<Missing>
}

/**
 * The run report. A class with more missing files than `maxMissing` lists the first ones and says how many there
 * are in `missingTotal`.
 */
export function reportFromJournal(journal: Journal, input: JournalReportInput): RunReport {
  const dry = input.dryRun ? 1 : 0
  const max = input.maxMissing ?? TRANSFER_DEFAULTS.report.maxMissingPerClass
  const classes: ClassReport[] = []
  for (const c of journal.classes()) {
    const missing: Missing[] = []
    let total = 0
    if (c.skipReason) {
      total = Number((journal.statement(PROBLEMS).get(c.id) as { n: number }).n)
      for (const m of journal.statement(SKIPPED_MISSING).iterate(c.id) as Iterable<Missing>) { if (missing.length >= max) break; missing.push({ ...m }) }
      classes.push({
        id: c.id, source: c.source, state: 'skipped', skipReason: c.skipReason, files: 0, verified: 0, bytes: 0, retries: 0, skippedPresent: 0, missing,
        ...(total > missing.length ? { missingTotal: total } : {}), ...(c.message ? { skipMessage: c.message } : {}),
      } as ClassReport)
      continue
    }
    const s = journal.statement(CLASS_SUMMARY).get(c.id, dry) as Record<'files' | 'verified' | 'bytes' | 'retries' | 'skippedPresent' | 'missing', number>
    total = Number(s.missing) + Number((journal.statement(PROBLEMS).get(c.id) as { n: number }).n)
    if (total > 0) for (const m of classMissing(journal, c.id, input.dryRun)) { if (missing.length >= max) break; missing.push({ ...m }) }
    const verified = Number(s.verified)
    const state: ClassReport['state'] = total === 0 ? (input.dryRun ? 'planned' : 'verified') : verified > 0 ? 'incomplete' : 'failed'
    classes.push({
      id: c.id, source: c.source, state, files: Number(s.files), verified, bytes: Number(s.bytes), retries: Number(s.retries), skippedPresent: Number(s.skippedPresent), missing,
      ...(total > missing.length ? { missingTotal: total } : {}),
    } as ClassReport)
  }
  // The totals' queries use only ?2 (dry run); ?1 is bound to nothing.
  const t = journal.statement(TOTALS).get(null, dry) as Record<string, number>
  const totals = {
    classes: classes.length, files: Number(t.files), verified: Number(t.verified), skippedPresent: Number(t.skippedPresent), bytes: Number(t.bytes), retries: Number(t.retries),
    missing: Number((journal.statement(TOTAL_MISSING).get(null, dry) as { n: number }).n), skippedClasses: classes.filter((c) => c.state === 'skipped').length,
    ...(input.rewriting ? { rewrittenPlaylists: Number(t.rewritten) } : {}),
  }
  return { ...(input.dryRun ? { dryRun: true } : {}), run: input.run, destination: input.destination, startedAt: input.startedAt, finishedAt: new Date().toISOString(), ok: classes.every(classPassed), totals, ...(input.filtered ? { filtered: input.filtered } : {}), classes }
}

/**
 * Writes `report` as indented JSON, with every missing file of each class read from the journal as it is written (a
 * class line in memory lists at most the first ones). The file is what JSON.stringify(report, null, 2) would give for
 * a report that names them all.
 */
export async function writeJournalReport(file: string, report: RunReport, journal: Journal): Promise<void> {
  const out = createWriteStream(file)
  const write = async (text: string): Promise<void> => { if (!out.write(text)) await once(out, 'drain') }
  try {
    const { classes, ...head } = report
    const headText = JSON.stringify({ ...head, classes: [] }, null, 2)
    await write(`${headText.slice(0, headText.lastIndexOf('[]'))}[`)
    const MARK = '\u0000missing\u0000'
    for (const [i, c] of classes.entries()) {
      const { missingTotal: _total, ...rest } = c
      const text = JSON.stringify({ ...rest, missing: MARK }, null, 2).replace(/\n/g, '\n    ')
      const [before, after] = text.split(JSON.stringify(MARK)) as [string, string]
      await write(`${i ? ',' : ''}\n    ${before}`)
      const rows: Iterable<Missing> = c.missingTotal === undefined ? c.missing
        : c.state === 'skipped' ? journal.statement(SKIPPED_MISSING).iterate(c.id) as Iterable<Missing> : classMissing(journal, c.id, report.dryRun === true)
      let n = 0
      for (const m of rows) {
        const item = JSON.stringify({ key: m.key, source: m.source, code: m.code, message: m.message }, null, 2).replace(/\n/g, '\n        ')
        await write(`${n++ ? ',' : '['}\n        ${item}`)
      }
      await write(`${n ? '\n      ]' : '[]'}${after}`)
    }
    await write(`${classes.length ? '\n  ' : ''}]\n}\n`)
  } finally {
    out.end()
    await once(out, 'close')
  }
}
