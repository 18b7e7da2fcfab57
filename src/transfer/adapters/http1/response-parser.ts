// An HTTP/1.1 response parser for the copy path's client: the head (status line and header fields) and the body's
// framing (Content-Length, chunked, or until the connection closes), fed the bytes of each socket read. It is strict,
// because every byte comes from the network: a status line other than `HTTP/1.x NNN`, a header line that is not a
// token, a colon and a value without control characters, folded lines, a head over its size or line limit, a
// Content-Length that is not one plain decimal number, a Transfer-Encoding other than `chunked`, or both framings at
// once are refused with TRANSFER_BAD_RESPONSE (TRANSFER_BAD_LENGTH for a malformed Content-Length), and the caller
// closes that connection. Body bytes are handed on as views of the buffer fed in, never copied here.
import { TransferError, TRANSFER_CODES } from '../../errors.ts'
import { MAX_LENGTH, parseLength } from '../../core/lengths.ts'

/** How the body of a response is delimited. */
export type BodyFraming = { kind: 'length'; length: number } | { kind: 'chunked' } | { kind: 'close' } | { kind: 'none' }

export type ResponseHead = {
  status: number
  /** Field names in lower case; a repeated field's values joined with ", ". */
  headers: Map<string, string>
  framing: BodyFraming
  /** Whether the connection may carry another request once this response ended. */
  keepAlive: boolean
}

export type ParserLimits = {
  /** Bytes of a response head (status line, fields, the blank line). */
  maxHeadBytes: number
  /** Header fields in one head. */
  maxHeaders: number
}

export type ParserCallbacks = {
  /** The head of the final (non-1xx) response; a throw aborts the parse with that error. */
  onHead(head: ResponseHead): void
  /** Body bytes `buf[start, end)`: a view valid during the call only (the buffer is reused by the next read). */
  onBody(buf: Buffer, start: number, end: number): void
}

const CRLF2 = Buffer.from('\r\n\r\n')
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// A field value: visible characters, spaces and tabs, and bytes 0x80–0xFF (obs-text); no CR, LF, NUL or other controls.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: [\t\x20-\x7e\x80-\xff]*)?$/
/** Longest chunk-size line (hex size and extensions) and trailer section accepted. */
const MAX_CHUNK_LINE = 4096

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-data-end' | 'trailers' | 'close' | 'done'

export function badResponse(message: string): TransferError {
  return new TransferError(TRANSFER_CODES.BAD_RESPONSE, message)
}

/** Parses one response (1xx interim responses are skipped). `head`: the request was HEAD (no body follows). */
export class ResponseParser {
  readonly #limits: ParserLimits
  readonly #cb: ParserCallbacks
  readonly #isHead: boolean
  readonly #label: string
  #state: State = 'head'
  /** Bytes of a head that spans reads (most heads arrive in one read and are never copied). */
  #partial: Buffer | undefined
  #partialLen = 0
  #remaining = 0
  /** A chunk-size line or trailer line that spans reads. */
  #line = ''
  #trailerBytes = 0

  constructor(cb: ParserCallbacks, limits: ParserLimits, options: { isHead: boolean; label: string }) {
    this.#cb = cb
    this.#limits = limits
    this.#isHead = options.isHead
    this.#label = options.label
  }

  /** The response ended (its last byte was fed). */
  get done(): boolean { return this.#state === 'done' }

  /** The head was parsed (body bytes may follow). */
  get headDone(): boolean { return this.#state !== 'head' }

  /**
   * Feeds `buf[start, end)`; returns where the response ended in it (bytes after that are not this response's), or
   * `end` when it needs more. Throws TransferError on malformed input.
   */
  execute(buf: Buffer, start: number, end: number): number {
    let at = start
    while (at < end && this.#state !== 'done') {
      switch (this.#state) {
        case 'head': at = this.#feedHead(buf, at, end); break
        case 'length': {
          const take = Math.min(this.#remaining, end - at)
          this.#cb.onBody(buf, at, at + take)
          at += take
          this.#remaining -= take
          if (this.#remaining === 0) this.#state = 'done'
          break
        }
        case 'close': this.#cb.onBody(buf, at, end); at = end; break
        case 'chunk-data': {
          const take = Math.min(this.#remaining, end - at)
          this.#cb.onBody(buf, at, at + take)
          at += take
          this.#remaining -= take
          if (this.#remaining === 0) { this.#state = 'chunk-data-end'; this.#line = '' }
          break
        }
        default: at = this.#feedLine(buf, at, end)
      }
    }
    return at
  }

  /** The connection closed: fine only for a body delimited by the close (or a response already complete). */
  finish(): void {
    if (this.#state === 'close') { this.#state = 'done'; return }
    if (this.#state === 'done') return
    const what = this.#state === 'head' ? 'before the end of the response head' : 'before the end of the body'
    throw new TransferError(TRANSFER_CODES.TRUNCATED, `${this.#label}: the connection closed ${what}`, { retryable: true })
  }

  #feedHead(buf: Buffer, start: number, end: number): number {
    const max = this.#limits.maxHeadBytes
    if (!this.#partial) {
      // The common case: the whole head is in this read, parsed from it without a copy.
      const i = buf.indexOf(CRLF2, start)
      if (i >= 0 && i < end && i + 4 - start <= max) {
        this.#parseHead(buf.toString('latin1', start, i))
        return i + 4
      }
      this.#partial = Buffer.allocUnsafe(max)
      this.#partialLen = 0
    }
    const p = this.#partial
    const from = Math.max(0, this.#partialLen - 3)
    const n = Math.min(end - start, max - this.#partialLen)
    buf.copy(p, this.#partialLen, start, start + n)
    this.#partialLen += n
    const i = p.subarray(0, this.#partialLen).indexOf(CRLF2, from)
    if (i < 0) {
      if (this.#partialLen >= max) throw badResponse(`${this.#label}: response head over ${max} bytes`)
      return start + n
    }
    const text = p.toString('latin1', 0, i)
    const used = i + 4 - (this.#partialLen - n)
    this.#partial = undefined
    this.#partialLen = 0
    this.#parseHead(text)
    return start + used
  }

  #parseHead(text: string): void {
    const lines = text.split('\r\n')
    const m = STATUS_LINE.exec(lines[0] ?? '')
    if (!m) throw badResponse(`${this.#label}: not an HTTP/1.x status line: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`)
    const status = Number(m[2])
    if (status < 100) throw badResponse(`${this.#label}: status ${status} out of range`)
    if (lines.length - 1 > this.#limits.maxHeaders) throw badResponse(`${this.#label}: more than ${this.#limits.maxHeaders} header fields`)
    const headers = new Map<string, string>()
    let lengths: string[] | undefined
    for (let k = 1; k < lines.length; k++) {
      const line = lines[k] ?? ''
      const colon = line.indexOf(':')
      const name = colon > 0 ? line.slice(0, colon) : ''
      if (!TOKEN.test(name)) throw badResponse(`${this.#label}: malformed header line ${JSON.stringify(line.slice(0, 80))}`)
      const value = line.slice(colon + 1).trim()
      if (!FIELD_VALUE.test(value)) throw badResponse(`${this.#label}: control character in header ${name}`)
      const key = name.toLowerCase()
      if (key === 'content-length') (lengths ??= []).push(value)
      const prev = headers.get(key)
      headers.set(key, prev === undefined ? value : `${prev}, ${value}`)
    }
    // 1xx: an interim response; the final one follows on the same connection.
    if (status < 200) {
      if (status === 101) throw badResponse(`${this.#label}: unexpected protocol switch (101)`)
      return
    }
    const framing = this.#framing(status, headers, lengths)
    const connection = headers.get('connection')?.toLowerCase() ?? ''
    const keepAlive = framing.kind !== 'close' && m[1] === '1' && !/(?:^|,)\s*close\s*(?:,|$)/.test(connection)
    this.#cb.onHead({ status, headers, framing, keepAlive })
    if (framing.kind === 'none' || (framing.kind === 'length' && framing.length === 0)) this.#state = 'done'
    else if (framing.kind === 'length') { this.#state = 'length'; this.#remaining = framing.length }
    else if (framing.kind === 'chunked') { this.#state = 'chunk-size'; this.#line = '' }
    else this.#state = 'close'
  }

  #framing(status: number, headers: Map<string, string>, lengths: string[] | undefined): BodyFraming {
    if (this.#isHead || status === 204 || status === 304) return { kind: 'none' }
    const te = headers.get('transfer-encoding')
    if (te !== undefined) {
      if (lengths) throw badResponse(`${this.#label}: both Transfer-Encoding and Content-Length`)
      if (te.toLowerCase() !== 'chunked') throw badResponse(`${this.#label}: unsupported Transfer-Encoding ${JSON.stringify(te.slice(0, 40))}`)
      return { kind: 'chunked' }
    }
    if (!lengths) return { kind: 'close' }
    const first = lengths[0] ?? ''
    if (lengths.some((v) => v !== first)) throw new TransferError(TRANSFER_CODES.BAD_LENGTH, `${this.#label}: conflicting Content-Length fields`)
    return { kind: 'length', length: parseLength(first, `${this.#label}: Content-Length`) }
  }

  /** Byte by byte through the small framing lines of a chunked body (size lines, CRLFs, trailers). */
  #feedLine(buf: Buffer, start: number, end: number): number {
    let at = start
    while (at < end) {
      const c = buf[at++] ?? 0
      if (c !== 0x0a) {
        if (this.#line.length >= MAX_CHUNK_LINE) throw badResponse(`${this.#label}: chunk framing line over ${MAX_CHUNK_LINE} bytes`)
        this.#line += String.fromCharCode(c)
        continue
      }
      if (!this.#line.endsWith('\r')) throw badResponse(`${this.#label}: bare LF in chunked framing`)
      const line = this.#line.slice(0, -1)
      this.#line = ''
      this.#endLine(line)
      return at
    }
    return at
  }

  #endLine(line: string): void {
    if (this.#state === 'chunk-data-end') {
      if (line !== '') throw badResponse(`${this.#label}: chunk data longer than its size`)
      this.#state = 'chunk-size'
      return
    }
    if (this.#state === 'trailers') {
      this.#trailerBytes += line.length + 2
      if (this.#trailerBytes > this.#limits.maxHeadBytes) throw badResponse(`${this.#label}: trailers over ${this.#limits.maxHeadBytes} bytes`)
      if (line === '') this.#state = 'done'
      return
    }
    const semi = line.indexOf(';')
    const hex = (semi < 0 ? line : line.slice(0, semi)).trimEnd()
    if (!/^[0-9a-fA-F]{1,13}$/.test(hex)) throw badResponse(`${this.#label}: malformed chunk size ${JSON.stringify(hex.slice(0, 20))}`)
    const size = parseInt(hex, 16)
    if (size > MAX_LENGTH) throw badResponse(`${this.#label}: chunk size over ${MAX_LENGTH}`)
    if (size === 0) { this.#state = 'trailers'; this.#trailerBytes = 0; return }
    this.#state = 'chunk-data'
    this.#remaining = size
  }
}
