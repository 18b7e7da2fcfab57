import { toSafeKey } from '../../shared/safe-path.ts'

/** Normalises a --strip-prefix value: no leading/trailing slashes; '' means nothing to strip. */
export function normalizePrefix(prefix: string | undefined): string {
  return (prefix ?? '').replace(/^\/+|\/+$/g, '')
}

/**
 * The destination key for a file URL: its path with host and query dropped, so the new CDN serves the same
 * paths; a leading `stripPrefix` is removed. Always passes toSafeKey (throws PathEscapeError on `..`, NUL…).
 */
export function keyForUrl(url: URL | string, stripPrefix?: string): string {
  const u = typeof url === 'string' ? new URL(url) : url
  return keyForPath(u.pathname, stripPrefix)
}

/** Same as keyForUrl for a bare path or object key ("videos/1/a.ts"). */
export function keyForPath(pathname: string, stripPrefix?: string): string {
  let key = toSafeKey(pathname)
  const prefix = normalizePrefix(stripPrefix)
  if (prefix) {
    const safePrefix = toSafeKey(prefix)
    if (key.startsWith(`${safePrefix}/`)) key = key.slice(safePrefix.length + 1)
  }
  return toSafeKey(key)
}

/** The directory part of a URL path, with a trailing slash ("/videos/1/master.m3u8" → "/videos/1/"). */
export function dirOfPath(pathname: string): string {
  const i = pathname.lastIndexOf('/')
  return i < 0 ? '/' : pathname.slice(0, i + 1)
}

const TYPES: Record<string, string> = {
  m3u8: 'application/vnd.apple.mpegurl', m3u: 'application/vnd.apple.mpegurl', ts: 'video/mp2t', aac: 'audio/aac',
  m4s: 'video/iso.segment', mp4: 'video/mp4', m4a: 'audio/mp4', m4v: 'video/mp4', key: 'application/octet-stream',
  vtt: 'text/vtt', webvtt: 'text/vtt', json: 'application/json', jpg: 'image/jpeg', png: 'image/png', mp3: 'audio/mpeg',
}

/** Fallback Content-Type by extension when the source gives none (local files, bare servers). */
export function contentTypeForKey(key: string): string {
  const dot = key.lastIndexOf('.')
  const ext = dot < 0 ? '' : key.slice(dot + 1).toLowerCase()
  return TYPES[ext] ?? 'application/octet-stream'
}
