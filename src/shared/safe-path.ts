import path from 'node:path'
import { PathEscapeError } from './errors.ts'

/**
 * Normalises a relative key ("a/b/c.ts") and refuses anything that could leave its root:
 * "..", absolute paths, backslashes, NUL, empty segments. Percent-decoding happens before this check
 * so "%2e%2e/" cannot slip through.
 */
export function toSafeKey(raw: string): string {
  let key: string
  try { key = decodeURIComponent(raw) } catch { key = raw }
  if (key.includes('\0') || key.includes('\\')) throw new PathEscapeError(`unsafe key: ${JSON.stringify(raw)}`)
  key = key.replace(/^\/+/, '')
  const parts = key.split('/')
  for (const part of parts) {
    if (part === '..' || part === '.') throw new PathEscapeError(`key escapes its root: ${JSON.stringify(raw)}`)
  }
  if (!key || parts.some((p) => p === '')) throw new PathEscapeError(`empty path segment in key: ${JSON.stringify(raw)}`)
  return key
}

/** Joins a safe key under a root directory and double-checks the result stays inside it. */
export function resolveInside(root: string, key: string): string {
  const safe = toSafeKey(key)
  const absRoot = path.resolve(root)
  const full = path.resolve(absRoot, safe)
  if (full !== absRoot && !full.startsWith(absRoot + path.sep)) {
    throw new PathEscapeError(`path escapes ${absRoot}: ${JSON.stringify(key)}`)
  }
  return full
}
