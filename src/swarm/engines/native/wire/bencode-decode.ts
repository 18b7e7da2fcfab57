// A small bencode decoder for tracker answers, whose every byte is untrusted: dicts are Maps (a "__proto__" or
// "constructor" key is just a key), byte strings are views of the input, nesting and integer length are bounded,
// and anything malformed — including bytes after the value — is one BencodeError, never another throw.

/** A decoded value: integer, byte string, list or dict (keys as latin1 strings: any byte maps to one char). */
export type BValue = number | Buffer | BValue[] | BDict
export type BDict = Map<string, BValue>

/** Deepest nesting of lists and dicts accepted (tracker answers nest three deep). */
const MAX_DEPTH = 32
/** Longest integer accepted, in digits (a 64-bit counter has at most 20). */
const MAX_INT_DIGITS = 20
/** Longest string length prefix accepted, in digits. */
const MAX_LEN_DIGITS = 10

const D = 0x64
const L = 0x6c
const I = 0x69
const E = 0x65
const COLON = 0x3a
const MINUS = 0x2d

export class BencodeError extends Error {}

const isDigit = (c: number | undefined): c is number => c !== undefined && c >= 0x30 && c <= 0x39

class Decoder {
  readonly #buf: Buffer
  pos = 0

  constructor(buf: Buffer) {
    this.#buf = buf
  }

  fail(what: string): never {
    throw new BencodeError(`malformed bencode: ${what} at byte ${this.pos}`)
  }

  value(depth: number): BValue {
    if (depth > MAX_DEPTH) this.fail('nesting too deep')
    const c = this.#buf[this.pos]
    if (c === I) return this.integer()
    if (c === L) {
      this.pos++
      const list: BValue[] = []
      while (this.#buf[this.pos] !== E) list.push(this.value(depth + 1))
      this.pos++
      return list
    }
    if (c === D) {
      this.pos++
      const dict: BDict = new Map()
      while (this.#buf[this.pos] !== E) {
        const key = this.string().toString('latin1')
        dict.set(key, this.value(depth + 1))
      }
      this.pos++
      return dict
    }
    return this.string()
  }

  integer(): number {
    this.pos++
    const start = this.pos
    if (this.#buf[this.pos] === MINUS) this.pos++
    while (isDigit(this.#buf[this.pos])) this.pos++
    const text = this.#buf.toString('latin1', start, this.pos)
    if (this.#buf[this.pos] !== E || !/^-?\d{1,20}$/.test(text) || text.replace('-', '').length > MAX_INT_DIGITS) this.fail('bad integer')
    this.pos++
    return Number(text)
  }

  string(): Buffer {
    const start = this.pos
    while (isDigit(this.#buf[this.pos])) this.pos++
    const digits = this.pos - start
    if (digits === 0) this.fail(this.#buf[this.pos] === undefined ? 'unexpected end' : 'expected a value')
    if (digits > MAX_LEN_DIGITS || this.#buf[this.pos] !== COLON) this.fail('bad string length')
    const n = Number(this.#buf.toString('latin1', start, this.pos))
    this.pos++
    if (n > this.#buf.length - this.pos) this.fail('string past the end')
    const s = this.#buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return s
  }
}

/** The one bencoded value `buf` holds; a BencodeError if it is malformed or followed by more bytes. */
export function decodeBencode(buf: Buffer): BValue {
  const d = new Decoder(buf)
  const v = d.value(0)
  if (d.pos !== buf.length) d.fail('bytes after the value')
  return v
}
