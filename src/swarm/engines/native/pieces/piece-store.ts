// Which of a torrent's pieces are on disk and verified: the bitmap, the SHA-1 check, the file they live in (a segment
// may sit at an offset inside its object's file) and the synchronous piece and block writes.
import { hash } from 'node:crypto'
import { constants, readSync, writeSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { SwarmError } from '../../../errors.ts'
import type { ParsedTorrent } from '../../../torrent-file.ts'

export class PieceStore {
  readonly pieceLength: number
  readonly length: number
  readonly count: number
  /** Where the torrent's bytes start in the file. */
  readonly offset: number
  readonly file: string
  fh: FileHandle | undefined
  /** Bytes found verified on disk when the store opened (a resumed download). */
  resumed = 0
  /** The pieces verified here, one bit each (BEP 3 bitfield order): what a bitfield message sends. */
  readonly bits: Uint8Array
  #haveCount = 0
  #haveBytes = 0
  readonly #hashes: Buffer

  constructor(parsed: ParsedTorrent, file: string, offset: number) {
    this.pieceLength = parsed.pieceLength
    this.length = parsed.length
    this.count = parsed.pieces.length
    this.file = file
    this.offset = offset
    this.#hashes = Buffer.from(parsed.pieces.join(''), 'hex')
    this.bits = new Uint8Array(Math.ceil(this.count / 8))
  }

  get haveCount(): number { return this.#haveCount }
  get haveBytes(): number { return this.#haveBytes }
  get complete(): boolean { return this.#haveCount === this.count }

  pieceSize(index: number): number {
    return index === this.count - 1 ? this.length - index * this.pieceLength : this.pieceLength
  }

  has(index: number): boolean {
    return ((this.bits[index >> 3] ?? 0) & (0x80 >> (index & 7))) !== 0
  }

  setHave(index: number): void {
    this.bits[index >> 3] = (this.bits[index >> 3] ?? 0) | (0x80 >> (index & 7))
    this.#haveCount++
    this.#haveBytes += this.pieceSize(index)
  }

  /** `data` is piece `index` as the torrent's SHA-1 names it. */
  verify(index: number, data: Uint8Array): boolean {
    // One-shot: no Hash object per piece.
    return this.matches(index, hash('sha1', data, 'buffer'))
  }

  /** `sha1` is the digest the torrent names for piece `index`. */
  matches(index: number, sha1: Buffer): boolean {
    return sha1.equals(this.#hashes.subarray(index * 20, index * 20 + 20))
  }

  /** Piece `index` as the file holds it now is the one the torrent names; `scratch` (at least the piece's size) is overwritten. */
  verifyOnDisk(index: number, scratch: Buffer): boolean {
    const len = this.pieceSize(index)
    const n = readSync((this.fh as FileHandle).fd, scratch, 0, len, this.offset + index * this.pieceLength)
    return n === len && this.verify(index, scratch.subarray(0, len))
  }

  /** Opens the file; `complete`: it is whole and verified, else the pieces already there and valid count (resume). */
  async open(complete: boolean): Promise<void> {
    if (complete) {
      this.fh = await open(this.file, 'r')
      const { size } = await this.fh.stat()
      if (size < this.offset + this.length) throw new SwarmError('SWARM_ENGINE_FAILED', `${this.file} has ${size} bytes, the torrent ends at ${this.offset + this.length}`)
      for (let i = 0; i < this.count; i++) this.setHave(i)
      return
    }
    // Created if missing, never truncated: segments placed in one object file open it side by side.
    this.fh = await open(this.file, constants.O_RDWR | constants.O_CREAT)
    const { size } = await this.fh.stat()
    const buf = Buffer.allocUnsafe(this.pieceLength)
    for (let i = 0; i < this.count && this.offset + i * this.pieceLength + this.pieceSize(i) <= size; i++) {
      const len = this.pieceSize(i)
      const { bytesRead } = await this.fh.read(buf, 0, len, this.offset + i * this.pieceLength)
      if (bytesRead === len && this.verify(i, buf.subarray(0, len))) this.setHave(i)
    }
    this.resumed = this.#haveBytes
  }

  /**
   * Writes piece `index` (throws on failure). Synchronous: a page-cache write of one piece costs microseconds, while
   * the promise API's round trip through the thread pool costs ~2 ms of this thread per piece in profiles (16 agents
   * on 2 cores). A short write is continued (writeBlock's loop), never taken for the whole piece.
   */
  write(index: number, data: Buffer): void {
    this.writeBlock(index, 0, data)
  }

  /**
   * Writes a block of piece `index` at `offset` in it, before the piece is verified (throws on failure). Only a piece
   * this store does not hold is written so: its bytes count once the whole piece matches its SHA-1.
   */
  writeBlock(index: number, offset: number, block: Uint8Array): void {
    const at = this.offset + index * this.pieceLength + offset
    for (let w = 0; w < block.length;) w += writeSync((this.fh as FileHandle).fd, block, w, block.length - w, at + w)
  }

  async close(): Promise<void> {
    await this.fh?.close().catch(() => undefined)
  }
}
