// --rewrite-uri FROM=TO: rewrites absolute URIs inside copied playlists (master and media) so a migrated library
// plays from its new place. Only URI lines and quoted URI="…" attributes of #EXT tags change; every other byte of
// the playlist is kept, and segments, keys and maps are never touched. Bodies are handled as latin1 text, which maps
// each byte to one char and back, so a playlist with bytes that are not UTF-8 keeps them.
import { Readable } from 'node:stream'
import type { CopyOutcome, FileKind, FileRef } from './types.ts'
import type { Source, SourceObject } from './ports.ts'
import { TransferError, TRANSFER_CODES, toTransferError } from '../errors.ts'
import { TRANSFER_DEFAULTS } from '../defaults.ts'

/** One prefix rule: a URI starting with `from` has that part replaced by `to`. Both are UTF-8 strings. */
export type RewriteRule = { from: string; to: string }

/** Parses one FROM=TO rule; throws TRANSFER_BAD_REWRITE_RULE with a one-line reason. */
export function parseRewriteRule(spec: string): RewriteRule {
  const eq = spec.indexOf('=')
  const bad = (why: string): TransferError => new TransferError(TRANSFER_CODES.BAD_REWRITE_RULE, `--rewrite-uri "${spec}": ${why}`, { status: 400 })
  if (eq < 0) throw bad("wants FROM=TO (no '=')")
  const from = spec.slice(0, eq)
  const to = spec.slice(eq + 1)
  if (!from) throw bad('FROM is empty')
  for (const [name, v] of [['FROM', from], ['TO', to]] as const) {
    if (!/^https?:\/\/[^/?#\s]+/i.test(v) || /\s/.test(v)) throw bad(`${name} must be an absolute http(s) URL prefix (https://host/path/)`)
    try { new URL(v) } catch { throw bad(`${name} is not a URL`) }
  }
  return { from, to }
}

/** Parses every rule, first error wins. */
export function parseRewriteRules(specs: readonly string[]): RewriteRule[] {
  return specs.map(parseRewriteRule)
}

/** The playlists a rewrite applies to. */
export function isPlaylistKind(kind: FileKind): boolean {
  return kind === 'master' || kind === 'media'
}

type LatinRule = { from: string; to: string }
const toLatin = (rules: readonly RewriteRule[]): LatinRule[] =>
  rules.map((r) => ({ from: Buffer.from(r.from, 'utf8').toString('latin1'), to: Buffer.from(r.to, 'utf8').toString('latin1') }))
    // The longest FROM is tried first, so a specific rule wins over a broader one whatever the order given.
    .sort((a, b) => b.from.length - a.from.length)

function rewriteOne(uri: string, rules: readonly LatinRule[]): string {
  for (const r of rules) if (uri.startsWith(r.from)) return r.to + uri.slice(r.from.length)
  return uri
}

const URI_ATTR = /(^|,)(\s*URI=")([^"]*)"/g

/** Rewrites one line (without its line break); returns it unchanged when nothing matched. */
function rewriteLine(line: string, rules: readonly LatinRule[]): string {
  const start = line.length - line.trimStart().length
  if (line.startsWith('#EXT', start)) {
    const colon = line.indexOf(':', start)
    if (colon < 0 || !line.includes('URI="', colon)) return line
    return line.slice(0, colon + 1) + line.slice(colon + 1).replace(URI_ATTR, (_m, lead: string, open: string, uri: string) => `${lead}${open}${rewriteOne(uri, rules)}"`)
  }
  if (line.startsWith('#', start) || start === line.length) return line
  return line.slice(0, start) + rewriteOne(line.slice(start), rules)
}

/** Rewrites a playlist body; `undefined` when no URI matched (the body is then used as it is). */
export function rewritePlaylist(body: Buffer, rules: readonly RewriteRule[]): Buffer | undefined {
  if (rules.length === 0) return undefined
  const latin = toLatin(rules)
  const text = body.toString('latin1')
  const lines = text.split('\n')
  let changed = false
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string
    const out = rewriteLine(line, latin)
    if (out !== line) { lines[i] = out; changed = true }
  }
  return changed ? Buffer.from(lines.join('\n'), 'latin1') : undefined
}

/** Reads a playlist body whole, refusing more than `maxBytes`. */
export async function readPlaylistBody(obj: SourceObject, maxBytes: number, label: string): Promise<Buffer> {
  const chunks: Buffer[] = []
  let n = 0
  try {
    for await (const chunk of obj.body as AsyncIterable<Buffer>) {
      n += chunk.length
      if (n > maxBytes) {
        obj.body.destroy()
        throw new TransferError(TRANSFER_CODES.PLAYLIST_TOO_LARGE, `${label}: playlist larger than ${maxBytes} bytes`)
      }
      chunks.push(chunk)
    }
  } catch (err) {
    throw toTransferError(err, label)
  }
  return Buffer.concat(chunks, n)
}

/**
 * A playlist fetched and rewritten: the body to store and whether any URI changed. A rewritten body loses the
 * origin's validator and time (they describe other bytes), so no later run takes it for the origin's file.
 */
export async function fetchRewritten(source: Pick<Source, 'get'>, ref: FileRef, rules: readonly RewriteRule[], options: { signal?: AbortSignal; maxBytes?: number } = {}): Promise<{ obj: SourceObject; body: Buffer; rewritten: boolean }> {
  const obj = await source.get(ref.source, options.signal ? { signal: options.signal } : {})
  const raw = await readPlaylistBody(obj, options.maxBytes ?? TRANSFER_DEFAULTS.crawl.maxPlaylistBytes, ref.source)
  const out = rewritePlaylist(raw, rules)
  const body = out ?? raw
  const base = { body: Readable.from([body]), size: body.length, ...(obj.contentType ? { contentType: obj.contentType } : {}), ...(obj.url ? { url: obj.url } : {}) }
  const kept = out ? {} : { ...(obj.etag ? { etag: obj.etag } : {}), ...(obj.modified !== undefined ? { modified: obj.modified } : {}) }
  return { obj: { ...base, ...kept }, body, rewritten: out !== undefined }
}

type CopyFn<O> = (ref: FileRef, options: O) => Promise<CopyOutcome>

/**
 * Wraps a copy function so playlists go through the rewrite: their source is read whole and rewritten, they are
 * always written again (a stored copy may come from other rules or none), and a successful outcome says whether the
 * body changed. Other files, or an empty rule list, go straight to `copy`.
 */
export async function copyWithRewrite<O extends { source: Source; checkExisting?: boolean; signal?: AbortSignal }>(
  copy: CopyFn<O>, ref: FileRef, options: O, rules: readonly RewriteRule[] | undefined,
): Promise<CopyOutcome> {
  if (!rules || rules.length === 0 || !isPlaylistKind(ref.kind)) return copy(ref, options)
  let rewritten = false
  const source: Source = {
    get: async (_locator, o) => {
      const r = await fetchRewritten(options.source, ref, rules, o)
      rewritten = r.rewritten
      return r.obj
    },
    getText: (l, o) => options.source.getText(l, o),
  }
  const outcome = await copy(ref, { ...options, source, checkExisting: false })
  return outcome.ok && rewritten ? { ...outcome, rewritten: true } : outcome
}
