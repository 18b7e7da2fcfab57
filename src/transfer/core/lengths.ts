// Sizes, lengths and offsets read from the network (Content-Length, S3 object sizes, HLS byte ranges) are checked
// before anything uses them: a non-negative integer no larger than Number.MAX_SAFE_INTEGER (2^53 − 1, the largest
// byte count a JS number holds exactly), else TRANSFER_BAD_LENGTH. Not retried: the same answer would come back.
import { TransferError, TRANSFER_CODES } from '../errors.ts'

/** The largest length or offset accepted. */
export const MAX_LENGTH = Number.MAX_SAFE_INTEGER

function badLength(what: string, value: unknown): TransferError {
  return new TransferError(TRANSFER_CODES.BAD_LENGTH, `${what}: ${JSON.stringify(value)} is not a byte count (a whole number from 0 to ${MAX_LENGTH})`, { details: { value: String(value) } })
}

/** Checks a length a library already turned into a number (the S3 SDK's ContentLength, Size). */
export function checkLength(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 0) throw badLength(what, value)
  return value
}

/** Parses a decimal length ("1234"). Signs, fractions, exponents, hex, spaces, empty text and values over MAX_LENGTH throw. */
export function parseLength(text: string, what: string): number {
  if (!/^\d{1,16}$/.test(text)) throw badLength(what, text)
  return checkLength(Number(text), what)
}

/** Parses an HLS byte range, `<length>[@<offset>]` (EXT-X-BYTERANGE, the BYTERANGE attribute); the range must end by MAX_LENGTH. */
export function parseByteRange(text: string, what: string): { length: number; offset?: number } {
  const at = text.indexOf('@')
  const length = parseLength(at < 0 ? text : text.slice(0, at), what)
  if (at < 0) return { length }
  const offset = parseLength(text.slice(at + 1), what)
  if (length + offset > MAX_LENGTH) throw badLength(what, text)
  return { length, offset }
}
