// The run's memory on disk (node:sqlite, WAL). Writes are buffered and flushed in one transaction every
// few hundred ms or thousand rows: per-file autocommit would cost more than the copy of a small file.
// A crash loses at most the last unflushed batch, and those files are found already present on resume.
import { createHash } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import type { FileKind, FileRef, FileState, SkipReason } from '../core/types.ts'
import { TRANSFER_DEFAULTS } from '../defaults.ts'

export type JournalFile = {
  key: string; classId: string; source: string; kind: FileKind; state: FileState; size: number | null
  etag: string | null; md5: string | null; attempts: number; code: string | null; message: string | null; present: number
  /** 1 when --rewrite-uri changed the stored playlist. */
  rewritten: number
}

export type JournalClass = { id: string; source: string; status: string | null; crawled: number; skipReason: SkipReason | null; message: string | null }

export type FileResult =
  | { key: string; state: 'copied' | 'skipped-present'; size: number; etag?: string; md5?: string; attempts: number; rewritten?: boolean }
  | { key: string; state: 'failed' | 'missing'; code: string; message: string; attempts: number }
  | { key: string; state: 'verified' }
  | { key: string; state: 'unverified'; code: string; message: string }

/** "run-" + a short hash of what defines the job, so the same command finds the same journal. */
export function deriveRunName(sources: string[], destination: string, extra: string[] = []): string {
  const h = createHash('sha256').update(JSON.stringify([[...sources].sort(), destination, ...extra])).digest('hex')
  return `run-${h.slice(0, 12)}`
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT);
CREATE TABLE IF NOT EXISTS classes (id TEXT PRIMARY KEY, source TEXT NOT NULL, status TEXT, crawled INTEGER NOT NULL DEFAULT 0,
  skip_reason TEXT, message TEXT, ord INTEGER);
CREATE TABLE IF NOT EXISTS files (key TEXT PRIMARY KEY, class_id TEXT NOT NULL, source TEXT NOT NULL, kind TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending', size INTEGER, etag TEXT, md5 TEXT, attempts INTEGER NOT NULL DEFAULT 0,
  code TEXT, message TEXT, present INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS files_class ON files (class_id, state);
CREATE INDEX IF NOT EXISTS files_state ON files (state);
CREATE TABLE IF NOT EXISTS shared (class_id TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (class_id, key));
CREATE TABLE IF NOT EXISTS problems (class_id TEXT NOT NULL, source TEXT NOT NULL, key TEXT, code TEXT NOT NULL, message TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS live (class_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS playlist_digests (key TEXT PRIMARY KEY, digest TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS todo (seq INTEGER PRIMARY KEY, key TEXT NOT NULL);
`

/** A file waiting in the todo table (the engine's copy queue, on disk), as the queue reads it. */
export type TodoRow = { seq: number; key: string; classId: string; source: string; kind: FileKind; size: number | null; etag: string | null; state: FileState }

/** A copied file to check at the destination. */
export type VerifyRow = { id: number; key: string; size: number | null; etag: string | null; md5: string | null }

/** States of a file that a run copies (again). */
const TO_COPY = "('pending', 'failed', 'missing')"
/** States of a file copied (or found present) and not yet verified. */
const TO_VERIFY = "('copied', 'skipped-present')"

type Op = () => void

export class Journal {
  readonly file: string
  readonly #db: DatabaseSync
  #ops: Op[] = []
  #timer: NodeJS.Timeout | undefined
  readonly #st: Record<string, StatementSync>
  readonly #cache = new Map<string, StatementSync>()

  /** `file` ':memory:' gives a throwaway journal (dry runs, tests). */
  constructor(file: string) {
    this.file = file
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true })
    this.#db = new DatabaseSync(file)
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;')
    this.#db.exec(SCHEMA)
    // Journals written before the column existed get it on open.
    if (!(this.#db.prepare('PRAGMA table_info(files)').all() as Array<{ name: string }>).some((c) => c.name === 'rewritten')) this.#db.exec('ALTER TABLE files ADD COLUMN rewritten INTEGER NOT NULL DEFAULT 0')
    const p = (sql: string): StatementSync => this.#db.prepare(sql)
    this.#st = {
      addClass: p('INSERT INTO classes (id, source, status, ord) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO NOTHING'),
      crawled: p('UPDATE classes SET crawled = 1, skip_reason = ?, message = ? WHERE id = ?'),
      insertFile: p('INSERT INTO files (key, class_id, source, kind, size, etag) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING'),
      share: p('INSERT INTO shared (class_id, key) SELECT ?, ? WHERE NOT EXISTS (SELECT 1 FROM files WHERE key = ? AND class_id = ?) ON CONFLICT DO NOTHING'),
      problem: p('INSERT INTO problems (class_id, source, key, code, message) VALUES (?, ?, ?, ?, ?)'),
      done: p('UPDATE files SET state = ?, size = ?, etag = ?, md5 = ?, attempts = attempts + ?, code = NULL, message = NULL, present = ?, rewritten = ? WHERE key = ?'),
      fail: p('UPDATE files SET state = ?, code = ?, message = ?, attempts = attempts + ? WHERE key = ?'),
      verified: p("UPDATE files SET state = 'verified' WHERE key = ?"),
      unverified: p("UPDATE files SET state = 'failed', code = ?, message = ? WHERE key = ?"),
      getFile: p('SELECT * FROM files WHERE key = ?'),
      setMeta: p('INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v'),
      getMeta: p('SELECT v FROM meta WHERE k = ?'),
      todo: p('INSERT INTO todo (key) VALUES (?)'),
      todoPage: p('SELECT t.seq, f.key, f.class_id AS classId, f.source, f.kind, f.size, f.etag, f.state FROM todo t JOIN files f ON f.key = t.key WHERE t.seq > ? ORDER BY t.seq LIMIT ?'),
      verifyById: p(`SELECT rowid AS id, key, size, etag, md5 FROM files WHERE rowid > ? AND state IN ${TO_VERIFY} ORDER BY rowid LIMIT ?`),
      verifyByKey: p(`SELECT rowid AS id, key, size, etag, md5 FROM files WHERE key > ? AND state IN ${TO_VERIFY} ORDER BY key LIMIT ?`),
    }
  }

  /** Runs `fn` inside one transaction. */
  #tx(fn: () => void): void {
    this.#db.exec('BEGIN')
    try { fn(); this.#db.exec('COMMIT') } catch (err) { this.#db.exec('ROLLBACK'); throw err }
  }

  #enqueue(op: Op): void {
    this.#ops.push(op)
    if (this.#ops.length >= TRANSFER_DEFAULTS.embedded.journalFlushRows) this.flush()
    else this.#timer ??= setTimeout(() => this.flush(), TRANSFER_DEFAULTS.embedded.journalFlushMs)
  }

  /** Writes every buffered change in one transaction. */
  flush(): void {
    if (this.#timer) { clearTimeout(this.#timer); this.#timer = undefined }
    if (this.#ops.length === 0) return
    const ops = this.#ops
    this.#ops = []
    this.#tx(() => { for (const op of ops) op() })
  }

  setMeta(k: string, v: string): void { this.#st.setMeta?.run(k, v) }
  getMeta(k: string): string | undefined { return (this.#st.getMeta?.get(k) as { v: string } | undefined)?.v }

  addClasses(classes: Array<{ id: string; source: string; status?: string }>): void {
    const base = Number((this.#db.prepare('SELECT COALESCE(MAX(ord), 0) AS m FROM classes').get() as { m: number }).m)
    this.#tx(() => classes.forEach((c, i) => this.#st.addClass?.run(c.id, c.source, c.status ?? null, base + i + 1)))
  }

  classes(): JournalClass[] {
    return (this.#db.prepare('SELECT id, source, status, crawled, skip_reason AS skipReason, message FROM classes ORDER BY ord').all() as JournalClass[])
  }

  /**
   * Records a crawled class and its files. Returns the refs that were new to the journal; a key another
   * class already owns is only linked (copied once however many classes reference it).
   */
  recordCrawl(classId: string, files: FileRef[], problems: Array<{ source: string; key?: string; code: string; message: string }>, skip?: { reason: SkipReason; message: string }): FileRef[] {
    const fresh: FileRef[] = []
    this.flush()
    this.#tx(() => {
      this.#db.prepare('DELETE FROM problems WHERE class_id = ?').run(classId)
      this.#insertFiles(classId, files, fresh)
      for (const p of problems) this.#st.problem?.run(classId, p.source, p.key ?? null, p.code, p.message)
      this.#st.crawled?.run(skip?.reason ?? null, skip?.message ?? null, classId)
    })
    return fresh
  }

  /**
   * Adds files a class references before its crawl is over (one media playlist's segments); the class is marked
   * crawled later by recordCrawl. New keys join the todo table; returns how many did.
   */
  addFiles(classId: string, files: FileRef[]): number {
    this.flush()
    let n = 0
    this.#tx(() => { n = this.#insertFiles(classId, files) })
    return n
  }

  /** Inserts files (a key another class owns is only linked); new ones go to the todo table (and to `fresh`). */
  #insertFiles(classId: string, files: FileRef[], fresh?: FileRef[]): number {
    let n = 0
    for (const f of files) {
      const r = this.#st.insertFile?.run(f.key, classId, f.source, f.kind, f.size ?? null, f.etag ?? null)
      if (r && Number(r.changes) > 0) { n++; fresh?.push(f); this.#st.todo?.run(f.key) } else this.#st.share?.run(classId, f.key, f.key, classId)
    }
    return n
  }

  /** Empties the todo table: a run's queue starts from what its crawl and resume put there. */
  clearTodo(): void { this.#db.exec('DELETE FROM todo') }

  /** The largest rowid of the files table: rows up to it were journaled by earlier runs. */
  maxFileRowid(): number {
    return Number((this.#db.prepare('SELECT COALESCE(MAX(rowid), 0) AS m FROM files').get() as { m: number }).m)
  }

  /** Queues a class's files from earlier runs (rowid ≤ `upTo`) that still need a copy; returns how many. */
  enqueueClass(classId: string, upTo: number): number {
    this.flush()
    return Number(this.#db.prepare(`INSERT INTO todo (key) SELECT key FROM files WHERE class_id = ? AND state IN ${TO_COPY} AND rowid <= ? ORDER BY kind IN ('master', 'media'), rowid`).run(classId, upTo).changes)
  }

  /** Up to `limit` queued files after `afterSeq`, in queue order. */
  todoPage(afterSeq: number, limit: number): TodoRow[] {
    this.flush()
    return this.#st.todoPage?.all(afterSeq, limit) as TodoRow[]
  }

  /**
   * A class found recording after some of its files were queued: the ones another class also references and that
   * are not copied yet pass to that class (re-queued unless still waiting unread after `readSeq`). Returns how many
   * were queued again.
   */
  withdrawClass(classId: string, readSeq: number): number {
    this.flush()
    let n = 0
    this.#tx(() => {
      const heirs = this.#db.prepare(`SELECT f.key, MIN(s.class_id) AS heir FROM files f JOIN shared s ON s.key = f.key WHERE f.class_id = ? AND f.state IN ${TO_COPY} GROUP BY f.key`).all(classId) as Array<{ key: string; heir: string }>
      const waiting = this.#db.prepare('SELECT 1 FROM todo WHERE key = ? AND seq > ?')
      for (const h of heirs) {
        this.#db.prepare('UPDATE files SET class_id = ? WHERE key = ?').run(h.heir, h.key)
        this.#db.prepare('DELETE FROM shared WHERE class_id = ? AND key = ?').run(h.heir, h.key)
        this.#db.prepare('INSERT INTO shared (class_id, key) VALUES (?, ?) ON CONFLICT DO NOTHING').run(classId, h.key)
        if (!waiting.get(h.key, readSeq)) { this.#st.todo?.run(h.key); n++ }
      }
    })
    return n
  }

  /** Buffers one file outcome. */
  record(result: FileResult): void {
    this.#enqueue(() => {
      switch (result.state) {
        case 'copied': case 'skipped-present':
          this.#st.done?.run(result.state, result.size, result.etag ?? null, result.md5 ?? null, result.attempts, result.state === 'skipped-present' ? 1 : 0, result.rewritten ? 1 : 0, result.key)
          break
        case 'failed': case 'missing':
          this.#st.fail?.run(result.state, result.code, result.message, result.attempts, result.key)
          break
        case 'verified': this.#st.verified?.run(result.key); break
        case 'unverified': this.#st.unverified?.run(result.code, result.message, result.key); break
      }
    })
  }

  getFile(key: string): JournalFile | undefined {
    return this.#st.getFile?.get(key) as JournalFile | undefined
  }

  /** Up to `limit` files to verify after `after`: by rowid (a number) or, for a merge with a sorted listing, by key. */
  verifyPage(after: number | string, limit: number): VerifyRow[] {
    this.flush()
    return (typeof after === 'number' ? this.#st.verifyById : this.#st.verifyByKey)?.all(after, limit) as VerifyRow[]
  }

  /**
   * Marks every file still copied/skipped-present as verified, in one statement. Verification calls it only once it
   * has checked each of those files and recorded the ones that failed (they are no longer in those states).
   */
  markRemainingVerified(): number {
    this.flush()
    return Number(this.#db.prepare(`UPDATE files SET state = 'verified' WHERE state IN ${TO_VERIFY}`).run().changes)
  }

  /** A prepared statement on the journal, kept for the next call with the same SQL (report queries). */
  statement(sql: string): StatementSync {
    this.flush()
    let st = this.#cache.get(sql)
    if (!st) { st = this.#db.prepare(sql); this.#cache.set(sql, st) }
    return st
  }

  counts(): Record<string, number> {
    this.flush()
    const rows = this.#db.prepare('SELECT state, COUNT(*) AS n FROM files GROUP BY state').all() as Array<{ state: string; n: number }>
    return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]))
  }

  /** --watch: whether a class had media playlists without EXT-X-ENDLIST when last crawled. */
  isLive(classId: string): boolean {
    return this.#db.prepare('SELECT 1 FROM live WHERE class_id = ?').get(classId) !== undefined
  }

  setLive(classId: string, live: boolean): void {
    this.#db.prepare(live ? 'INSERT INTO live (class_id) VALUES (?) ON CONFLICT DO NOTHING' : 'DELETE FROM live WHERE class_id = ?').run(classId)
  }

  /**
   * --watch: stores the digest of each playlist's text as crawled, and puts back to pending (size and validators
   * forgotten) every playlist already copied whose digest differs from the one stored: the crawl alone would not
   * queue it again, since the journal knows its key. Returns how many were put back.
   */
  requeueChanged(digests: Map<string, string>): number {
    this.flush()
    const get = this.#db.prepare('SELECT digest FROM playlist_digests WHERE key = ?')
    const put = this.#db.prepare('INSERT INTO playlist_digests (key, digest) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET digest = excluded.digest')
    const reset = this.#db.prepare("UPDATE files SET state = 'pending', size = NULL, etag = NULL, md5 = NULL, present = 0 WHERE key = ? AND state IN ('copied', 'verified', 'skipped-present')")
    let n = 0
    this.#tx(() => {
      for (const [key, digest] of digests) {
        if ((get.get(key) as { digest: string } | undefined)?.digest === digest) continue
        put.run(key, digest)
        n += Number(reset.run(key).changes)
      }
    })
    return n
  }

  close(): void {
    this.flush()
    this.#db.close()
  }
}
