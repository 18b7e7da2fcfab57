// The end-of-run check that a file is really at the destination: size always, checksum where both sides
// have one (S3 ETag vs the MD5 computed while copying; a directory's file re-hashed when asked).
import type { Destination, StoredObject } from './ports.ts'
import { TRANSFER_CODES } from '../errors.ts'

/** What the journal remembers of a copied file. */
export type ExpectedObject = {
  key: string
  size: number
  /** ETag the store returned at write time. */
  etag?: string
  /** MD5 (or S3 multipart ETag) computed while streaming. */
  md5?: string
}

export type VerifyResult = { ok: true; key: string } | { ok: false; key: string; code: string; message: string }

export type VerifyOptions = {
  /** Re-hash directory files and compare with the MD5 taken while copying. @defaultValue false */
  checksum?: boolean
  /** What a listing already returned for this key (skips the per-file stat). @defaultValue stat the key */
  stored?: StoredObject | null
}

/**
 * The size and ETag checks of verifyFile on what the store returned (undefined: not there), without I/O. Returns
 * 'rehash' when the file passes them but its bytes must still be re-hashed (`checksum` on a store that keeps no
 * checksum of its own): only verifyFile does that.
 */
export function checkStored(expected: ExpectedObject, stored: StoredObject | undefined, options: { checksum?: boolean; canRehash?: boolean } = {}): VerifyResult | 'rehash' {
  const key = expected.key
  if (!stored) return { ok: false, key, code: TRANSFER_CODES.VERIFY_MISSING, message: `${key}: not at the destination` }
  if (expected.size >= 0 && stored.size !== expected.size) {
    return { ok: false, key, code: TRANSFER_CODES.VERIFY_MISMATCH, message: `${key}: ${stored.size} bytes at destination, expected ${expected.size}` }
  }
  if (stored.etag && expected.etag && stored.etag !== expected.etag) {
    return { ok: false, key, code: TRANSFER_CODES.VERIFY_MISMATCH, message: `${key}: destination ETag ${stored.etag} ≠ ${expected.etag} written` }
  }
  if (stored.etag && expected.md5 && !stored.etag.includes('-') === !expected.md5.includes('-') && stored.etag !== expected.md5) {
    return { ok: false, key, code: TRANSFER_CODES.VERIFY_MISMATCH, message: `${key}: destination ETag ${stored.etag} ≠ MD5 ${expected.md5} of the source bytes` }
  }
  if (options.checksum && expected.md5 && !stored.etag && options.canRehash) return 'rehash'
  return { ok: true, key }
}

export async function verifyFile(dest: Destination, expected: ExpectedObject, options: VerifyOptions = {}): Promise<VerifyResult> {
  const key = expected.key
  let stored: StoredObject | undefined
  try {
    stored = options.stored === undefined ? await dest.stat(key) : options.stored ?? undefined
  } catch (err) {
    return { ok: false, key, code: TRANSFER_CODES.VERIFY_MISSING, message: `${key}: cannot stat at destination (${(err as Error).message})` }
  }
  const checked = checkStored(expected, stored, { ...(options.checksum ? { checksum: true } : {}), canRehash: dest.checksum !== undefined })
  if (checked !== 'rehash') return checked
  if (dest.checksum && expected.md5) {
    try {
      const sum = await dest.checksum(key)
      if (sum !== expected.md5) return { ok: false, key, code: TRANSFER_CODES.VERIFY_MISMATCH, message: `${key}: MD5 ${sum} at destination ≠ ${expected.md5} of the source bytes` }
    } catch (err) {
      return { ok: false, key, code: TRANSFER_CODES.VERIFY_MISSING, message: `${key}: cannot read at destination (${(err as Error).message})` }
    }
  }
  return { ok: true, key }
}
