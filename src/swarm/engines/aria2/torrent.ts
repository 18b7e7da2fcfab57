// One torrent inside aria2c, as the engine sees it: refreshed from aria2's tellStatus by the engine's poller.
import { EventEmitter } from 'node:events'
import { SwarmError } from '../../errors.ts'
import type { EngineTorrent, EngineTorrentEvents, EngineTorrentStatus } from '../engine.ts'

export type Aria2Status = {
  gid: string
  status: 'active' | 'waiting' | 'paused' | 'error' | 'complete' | 'removed'
  totalLength: string
  completedLength: string
  uploadLength: string
  downloadSpeed: string
  uploadSpeed: string
  connections: string
  bitfield?: string
  errorCode?: string
  errorMessage?: string
  verifiedLength?: string
  verifyIntegrityPending?: string
}

/** The tellStatus keys the poller asks for. */
export const STATUS_KEYS = ['gid', 'status', 'totalLength', 'completedLength', 'uploadLength', 'downloadSpeed', 'uploadSpeed', 'connections', 'bitfield', 'errorCode', 'errorMessage', 'verifiedLength', 'verifyIntegrityPending']

export class Aria2Torrent extends EventEmitter<EngineTorrentEvents> implements EngineTorrent {
  readonly infoHash: string
  readonly pieceLength: number
  readonly length: number
  readonly gid: string
  resumed = 0
  bannedCount = 0
  checked = false
  /** Data was on disk before the add (else nothing is resumed, whatever the first poll sees). */
  mayResume = false
  /** Added as complete (seeding what this agent verified itself): nothing is received. */
  seedOnly = false
  stopped = false
  #s: Aria2Status | undefined
  #bits: Buffer = Buffer.alloc(0)
  #doneEmitted = false
  #failed = false
  #final = { done: 0, received: 0, uploaded: 0 }
  readonly #remove: (gid: string, wait: boolean) => Promise<void>

  constructor(gid: string, infoHash: string, pieceLength: number, length: number, remove: (gid: string, wait: boolean) => Promise<void>) {
    super()
    this.setMaxListeners(0)
    this.gid = gid
    this.infoHash = infoHash
    this.pieceLength = pieceLength
    this.length = length
    this.#remove = remove
  }

  /** Called by the poller with a fresh tellStatus. */
  update(s: Aria2Status): void {
    const prevDone = this.#s ? Number(this.#s.completedLength) : -1
    this.#s = s
    if (s.bitfield) this.#bits = Buffer.from(s.bitfield, 'hex')
    if (!this.checked && s.verifiedLength === undefined && s.verifyIntegrityPending === undefined && s.status !== 'waiting') {
      this.checked = true
      if (this.mayResume) this.resumed = Number(s.completedLength)
    }
    if (s.status === 'error' || s.status === 'removed') {
      if (this.#failed) return
      this.#failed = true
      this.emit('error', new SwarmError('SWARM_ENGINE_FAILED', `aria2: ${s.errorMessage ?? 'error'} (code ${s.errorCode ?? '?'})`))
      return
    }
    if (Number(s.completedLength) !== prevDone) this.emit('progress')
    if (this.checked && this.status().complete && !this.#doneEmitted) {
      this.#doneEmitted = true
      this.emit('done')
    }
  }

  status(): EngineTorrentStatus {
    const s = this.#s
    if (!s || this.stopped) return { done: this.#final.done, received: this.#final.received, uploaded: this.#final.uploaded, downRate: 0, upRate: 0, peers: 0, complete: false }
    const done = Number(s.completedLength)
    return {
      done, received: this.seedOnly ? 0 : Math.max(0, done - this.resumed), uploaded: Number(s.uploadLength),
      downRate: Number(s.downloadSpeed), upRate: Number(s.uploadSpeed), peers: Number(s.connections),
      complete: this.checked && done === this.length,
    }
  }

  hasPiece(index: number): boolean {
    if (this.#s && Number(this.#s.completedLength) === this.length && this.checked) return true
    const byte = this.#bits[index >> 3]
    return byte !== undefined && (byte & (0x80 >> (index & 7))) !== 0
  }

  prioritize(): void { /* aria2 has no per-piece priority over RPC; it picks rarest-first */ }

  async stop(options: { wait?: boolean } = {}): Promise<void> {
    if (this.stopped) return
    const st = this.status()
    this.#final = { done: st.done, received: st.received, uploaded: st.uploaded }
    this.stopped = true
    await this.#remove(this.gid, options.wait ?? false)
  }
}
