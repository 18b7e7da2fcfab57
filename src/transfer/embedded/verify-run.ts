// The end of a run: every copied (or found present) file is checked at the destination, a page of the journal at a
// time, so memory holds one page whatever the size of the library. A store that lists (S3) is read alongside the
// journal, both in key order; a directory answers each page with one batched stat; the rest stat file by file.
import type { EventEmitter } from 'node:events'
import type { Destination, StoredObject } from '../core/ports.ts'
import type { TransferEvents } from '../core/events.ts'
import { checkStored, verifyFile, type ExpectedObject } from '../core/verify.ts'
import { TRANSFER_DEFAULTS } from '../defaults.ts'
import type { Journal, VerifyRow } from './journal.ts'

type Listed = { key: string; size: number; etag?: string }

/** Orders strings as their UTF-8 bytes (S3 listings and sqlite's BINARY collation), without encoding them. */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i)
    let y = b.charCodeAt(i)
    if (x === y) continue
    // UTF-16 puts surrogates (U+10000 and up) below U+E000–U+FFFF; UTF-8 puts them above.
    if (x >= 0xd800 && y >= 0xd800) { x = x <= 0xdfff ? x + 0x2000 : x - 0x800; y = y <= 0xdfff ? y + 0x2000 : y - 0x800 }
    return x - y
  }
  return a.length - b.length
}

/** Walks a key-ordered listing forward to the keys asked for, in the same order. */
class ListingCursor {
  readonly #it: AsyncIterator<Listed>
  #cur: Listed | undefined
  #started = false
  constructor(listing: AsyncIterable<Listed>) { this.#it = listing[Symbol.asyncIterator]() }

  /** The listed object with this key, or undefined when the listing has passed it without finding it. */
  async seek(key: string): Promise<Listed | undefined> {
    if (!this.#started) { this.#started = true; await this.#next() }
    while (this.#cur && compareUtf8(this.#cur.key, key) < 0) await this.#next()
    return this.#cur?.key === key ? this.#cur : undefined
  }

  async #next(): Promise<void> {
    const r = await this.#it.next()
    this.#cur = r.done ? undefined : r.value
  }
}

/** Checks every copied/present file at the destination; a listing replaces per-file stats where the store has one. */
export async function verifyAll(journal: Journal, destination: Destination, options: { checksum: boolean; signal?: AbortSignal }, events: EventEmitter<TransferEvents>): Promise<void> {
  const pageSize = TRANSFER_DEFAULTS.embedded.verifyPage
  const canRehash = destination.checksum !== undefined
  const listing = destination.list ? new ListingCursor(destination.list()) : undefined
  let files = 0
  let failed = 0
  const expected = (row: VerifyRow): ExpectedObject => ({ key: row.key, size: row.size ?? -1, ...(row.etag ? { etag: row.etag } : {}), ...(row.md5 ? { md5: row.md5 } : {}) })
  const fail = (key: string, code: string, message: string): void => { failed++; journal.record({ key, state: 'unverified', code, message }) }
  // Files that need I/O of their own: a re-hash (--checksum on a store without checksums), a stat where nothing
  // answered in bulk, or a confirming stat of a file the listing did not show (a store may list out of order).
  // Each is journaled as it completes; the files that passed in bulk are marked verified in one statement at the end.
  const slow = async (rows: Array<{ row: VerifyRow; stored?: StoredObject | null }>): Promise<void> => {
    let i = 0
    const worker = async (): Promise<void> => {
      while (i < rows.length && !options.signal?.aborted) {
        const { row, stored } = rows[i++] as { row: VerifyRow; stored?: StoredObject | null }
        const res = await verifyFile(destination, expected(row), { checksum: options.checksum, ...(stored !== undefined ? { stored } : {}) })
        if (res.ok) journal.record({ key: row.key, state: 'verified' })
        else fail(row.key, res.code, res.message)
      }
    }
    await Promise.all(Array.from({ length: Math.min(TRANSFER_DEFAULTS.embedded.verifyConcurrency, rows.length) }, worker))
  }
  let after: number | string = listing ? '' : 0
  while (!options.signal?.aborted) {
    const rows = journal.verifyPage(after, pageSize)
    const last = rows.at(-1)
    if (!last) break
    after = listing ? last.key : last.id
    files += rows.length
    const later: Array<{ row: VerifyRow; stored?: StoredObject | null }> = []
    const stats = !listing && destination.statMany ? destination.statMany(rows.map((r) => r.key)) : undefined
    for (const [j, row] of rows.entries()) {
      let stored: StoredObject | undefined
      if (listing) {
        stored = await listing.seek(row.key)
        if (!stored) { later.push({ row }); continue }
      } else if (stats) {
        stored = stats[j]
      } else {
        later.push({ row })
        continue
      }
      const res = checkStored(expected(row), stored, { checksum: options.checksum, canRehash })
      if (res === 'rehash') later.push({ row, stored: stored ?? null })
      else if (!res.ok) fail(row.key, res.code, res.message)
    }
    await slow(later)
    await new Promise<void>((r) => setImmediate(r))
  }
  // Interrupted: what was not checked stays copied and is verified by the next run.
  if (options.signal?.aborted) journal.flush()
  else journal.markRemainingVerified()
  events.emit('verified', { files, failed })
}
