// Checks a peer's BEP 10 extended handshake without decoding it into objects. bittorrent-protocol decodes it into
// plain objects and calls methods on what it finds (`info.m[name].toString()`): a dict with a "toString" key throws
// out of its parser, and a "__proto__" key replaces a decoded dict's prototype. The native engine uses no extension, so
// it needs no value from the handshake, only the verdict: this scanner walks the bytes, builds nothing, and
// bounds its recursion.

/** Deepest nesting of lists and dicts accepted (real handshakes nest two deep). */
const MAX_DEPTH = 16
/** Longest integer accepted, in digits (BEP 10 values fit in 64 bits). */
const MAX_INT_DIGITS = 20

const D = 0x64 // 'd'
const L = 0x6c // 'l'
const I = 0x69 // 'i'
const E = 0x65 // 'e'
const COLON = 0x3a
const MINUS = 0x2d
const M = 0x6d // 'm'

const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39

class Scanner {
  readonly #buf: Uint8Array
  pos = 0

  constructor(buf: Uint8Array) {
    this.#buf = buf
  }

  peek(): number | undefined { return this.#buf[this.pos] }

  /** One value of any type; false if malformed. */
  value(depth: number): boolean {
    const c = this.peek()
    if (c === I) return this.integer()
    if (c === L) return this.list(depth)
    if (c === D) return this.dict(depth, false)
    return this.string() >= 0
  }

  integer(): boolean {
    if (this.peek() !== I) return false
    this.pos++
    if (this.peek() === MINUS) this.pos++
    const start = this.pos
    while (isDigit(this.peek())) this.pos++
    const digits = this.pos - start
    if (digits === 0 || digits > MAX_INT_DIGITS || this.peek() !== E) return false
    this.pos++
    return true
  }

  /** A byte string; its length, or -1 if malformed. */
  string(): number {
    const start = this.pos
    let n = 0
    while (isDigit(this.peek())) {
      n = n * 10 + ((this.peek() as number) - 0x30)
      this.pos++
      if (this.pos - start > 9) return -1
    }
    if (this.pos === start || this.peek() !== COLON) return -1
    this.pos++
    if (n > this.#buf.length - this.pos) return -1
    this.pos += n
    return n
  }

  list(depth: number): boolean {
    if (depth >= MAX_DEPTH) return false
    this.pos++
    while (this.peek() !== E) if (this.peek() === undefined || !this.value(depth + 1)) return false
    this.pos++
    return true
  }

  /** A dict; `top`: the handshake itself, whose "m" must map names to integers. */
  dict(depth: number, top: boolean): boolean {
    if (depth >= MAX_DEPTH) return false
    this.pos++
    while (this.peek() !== E) {
      if (this.peek() === undefined) return false
      const keyAt = this.pos
      const len = this.string()
      if (len < 0) return false
      const isM = top && len === 1 && this.#buf[this.pos - 1] === M && this.pos - keyAt === 3
      if (isM ? !this.mapping() : !this.value(depth + 1)) return false
    }
    this.pos++
    return true
  }

  /** BEP 10's "m": names to message ids (integers). */
  mapping(): boolean {
    if (this.peek() !== D) return false
    this.pos++
    while (this.peek() !== E) {
      if (this.peek() === undefined || this.string() < 0 || !this.integer()) return false
    }
    this.pos++
    return true
  }
}

/**
 * Why `payload` is not a well-formed extended handshake — one bencoded dict and nothing after it, whose "m" (if
 * any) maps names to integers — or undefined if it is.
 */
export function checkExtendedHandshake(payload: Uint8Array): string | undefined {
  const s = new Scanner(payload)
  if (s.peek() !== D) return 'not a dict'
  if (!s.dict(0, true)) return 'malformed bencode'
  if (s.pos !== payload.length) return 'bytes after the dict'
  return undefined
}
