import type { SkipReason } from '../core/types.ts'

/** Where a class is in a distributed run. */
export type ClassState = 'queued' | 'copying' | 'verified' | 'incomplete' | 'skipped' | 'failed'

/** One class of a run, as stored in the run's classes hash (JSON). */
export type ClassRecord = {
  id: string
  source: string
  /** Catalog status as given (ready, recording…). */
  status?: string
  state: ClassState
  skipReason?: SkipReason
  /** Why the class was skipped or failed, or the last crawl problem. */
  code?: string
  message?: string
  /** Still recording (no EXT-X-ENDLIST): re-crawled every --watch cycle, never finished. */
  live?: boolean
  /** Problems the crawl reported (referenced files that could not be fetched or listed). */
  problems?: number
  /** The scan vouched for this class's host (see ScanItem.trusted). */
  trusted?: boolean
  /** Scan generation that last queued a crawl of this class. */
  g?: number
}

export const FINISHED_STATES: ReadonlySet<ClassState> = new Set(['verified', 'incomplete', 'skipped', 'failed'])
