// What one --watch cycle changes in the embedded engine's crawl. A cycle is a resumed run with four differences:
// catalog classes with status "recording" are taken, not skipped; classes still recording when last crawled (media
// playlists without EXT-X-ENDLIST) and prefix classes (directories, S3 prefixes: their listing may grow) are crawled
// again instead of resumed from the journal; every playlist text read is digested, and a playlist already copied
// whose digest changed goes back to pending; a re-crawled class queues every file of it the journal still has to
// copy (new segments, changed playlists, earlier failures), playlists after segments (Journal.enqueueClass).
// Verified segments are never queued again.
import { createHash } from 'node:crypto'
import type { PlannedSources } from '../core/plan.ts'
import type { ListingSource } from '../core/ports.ts'
import type { ClassEntry, CrawlResult } from '../core/types.ts'
import { isPlaylistLocator } from '../core/locators.ts'
import type { Journal } from './journal.ts'

export class WatchCycle {
  /** Playlist locator → digest of the text this cycle's crawl read. */
  readonly #digests = new Map<string, string>()
  /** Classes found still recording in this cycle. */
  live = 0
  /** Playlists put back to pending because their text changed. */
  changedPlaylists = 0

  /** Takes catalog entries skipped only for their "recording" status as classes. */
  adoptRecording(plan: PlannedSources): PlannedSources {
    const recording = plan.skipped.filter((s) => s.reason === 'recording' && s.source !== '')
    if (recording.length === 0) return plan
    return {
      ...plan,
      classes: [...plan.classes, ...recording.map((s) => ({ id: s.id, source: s.source, status: 'recording' }))],
      skipped: plan.skipped.filter((s) => !recording.includes(s)),
    }
  }

  /** Whether a class the journal has crawled is crawled again in this cycle. */
  recrawl(journal: Journal, entry: ClassEntry): boolean {
    return !isPlaylistLocator(entry.source) || journal.isLive(entry.id)
  }

  /** A source whose playlist reads are digested. */
  tap(source: ListingSource): ListingSource {
    return {
      list: (prefix, o) => source.list(prefix, o),
      getText: async (locator, o) => {
        const res = await source.getText(locator, o)
        this.#digests.set(locator, createHash('sha1').update(res.text).digest('base64'))
        return res
      },
    }
  }

  /** After a class's crawl was journaled: notes whether it still records and puts its changed playlists back to pending. */
  settle(journal: Journal, classId: string, crawl: CrawlResult): void {
    journal.setLive(classId, !crawl.complete)
    if (!crawl.complete) this.live++
    const digests = new Map<string, string>()
    for (const f of crawl.files) {
      const d = this.#digests.get(f.source)
      if (d === undefined) continue
      digests.set(f.key, d)
      this.#digests.delete(f.source)
    }
    this.changedPlaylists += journal.requeueChanged(digests)
  }
}
