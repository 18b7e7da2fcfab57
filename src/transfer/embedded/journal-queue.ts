// The embedded engine's copy queue, on disk: the journal's todo table lists the files to copy in the order they were
// queued (crawled, or left over by an earlier run). Memory holds one page of them, read ahead, plus the retries
// waiting to go to the FRONT (at most the files in flight), so it does not grow with the library.
import type { FileRef } from '../core/types.ts'
import { TRANSFER_DEFAULTS } from '../defaults.ts'
import type { Journal, TodoRow } from './journal.ts'

/** A file taken from the queue; `sentAt` is when it last went to a copier (performance.now()), with `sentWith` copies in flight. */
export type QueueItem = { ref: FileRef; classId: string; attempts: number; sentAt: number; sentWith: number }

export class JournalQueue {
  readonly #journal: Journal
  readonly #pageSize: number
  #seq = 0
  #page: TodoRow[] = []
  #head = 0
  #front: QueueItem[] = []
  #added = 0
  #read = 0
  #stale = true
  readonly #withdrawn = new Set<string>()

  /** Starts an empty queue: the todo table is cleared, then filled by the crawl and by enqueueClass. */
  constructor(journal: Journal, pageSize: number = TRANSFER_DEFAULTS.embedded.queuePage) {
    this.#journal = journal
    this.#pageSize = pageSize
    journal.clearTodo()
  }

  /** The last todo row read into memory: rows after it are still waiting on disk. */
  get readSeq(): number { return this.#seq }

  /** Files waiting (on disk and read ahead), retries excluded. */
  get backlog(): number { return this.#added - this.#read + this.#page.length - this.#head }

  /** Counts `n` rows the journal just added to the todo table (and makes the next take look for them). */
  added(n: number): void {
    if (n <= 0) return
    this.#added += n
    this.#stale = true
  }

  /** A class whose queued files must not be copied any more (found recording after some were queued). */
  withdraw(classId: string): void { this.#withdrawn.add(classId) }

  /** A file to retry goes before everything queued. */
  pushFront(item: QueueItem): void { this.#front.push(item) }

  /** The next file to copy, or undefined when nothing is queued now. */
  takeNow(): QueueItem | undefined {
    const retry = this.#front.pop()
    if (retry) return retry
    for (;;) {
      if (this.#head >= this.#page.length && !this.#refill()) return undefined
      const row = this.#page[this.#head++] as TodoRow
      // A row queued twice (a key handed to another class) is copied once: its state moves on with the first copy.
      if (this.#withdrawn.has(row.classId) || (row.state !== 'pending' && row.state !== 'failed' && row.state !== 'missing')) continue
      const ref: FileRef = { source: row.source, key: row.key, kind: row.kind }
      if (row.size !== null && row.state === 'pending') ref.size = row.size
      if (row.etag) ref.etag = row.etag
      return { ref, classId: row.classId, attempts: 0, sentAt: 0, sentWith: 0 }
    }
  }

  #refill(): boolean {
    if (!this.#stale) return false
    this.#page = this.#journal.todoPage(this.#seq, this.#pageSize)
    this.#head = 0
    const last = this.#page.at(-1)
    if (!last) { this.#stale = false; return false }
    this.#seq = last.seq
    this.#read += this.#page.length
    return true
  }
}
