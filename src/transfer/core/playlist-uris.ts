// Every URI an HLS playlist can carry, by tag. hls-parser gives the structure (master vs media, endlist,
// variants, renditions, segments, keys, maps); tags it does not expose reliably (LL-HLS parts and preload
// hints, rendition reports, EXT-X-MEDIA not bound to a variant) are read here line by line. The union is
// returned, so a quirk in either reader cannot drop a file.
import * as HLS from 'hls-parser'
import type { FileKind } from './types.ts'
import { TransferError, TRANSFER_CODES } from '../errors.ts'
import { parseByteRange, parseLength } from './lengths.ts'

HLS.setOptions({ silent: true, strictMode: false })

/** One URI found in a playlist. `playlist` means the crawler must fetch and read it too. */
export type PlaylistRef = { uri: string; kind: FileKind; playlist: boolean; tag: string }

export type ParsedPlaylist = {
  isMaster: boolean
  /** EXT-X-ENDLIST present (media playlists only; masters report true). */
  endlist: boolean
  refs: PlaylistRef[]
}

const ATTR_URI = /(?:^|,)\s*URI="([^"]*)"/
const ATTR = (name: string): RegExp => new RegExp(`(?:^|,)\\s*${name}=("[^"]*"|[^,]*)`)
const TYPE_ATTR = ATTR('TYPE')
const METHOD_ATTR = ATTR('METHOD')
const BYTERANGE_ATTR = ATTR('BYTERANGE')
const BYTERANGE_START_ATTR = ATTR('BYTERANGE-START')
const BYTERANGE_LENGTH_ATTR = ATTR('BYTERANGE-LENGTH')

function attr(re: RegExp, line: string): string | undefined {
  const m = re.exec(line)
  return m?.[1]?.replace(/^"|"$/g, '')
}

/** Throws TRANSFER_NOT_PLAYLIST unless the text starts with #EXTM3U (after an optional BOM and blank lines). */
export function assertPlaylistText(text: string, url: string): void {
  const head = text.replace(/^\uFEFF/, '').trimStart().slice(0, 7)
  if (head !== '#EXTM3U') {
    throw new TransferError(TRANSFER_CODES.NOT_PLAYLIST, `${url} is not an HLS playlist (no #EXTM3U header)`, { details: { url } })
  }
}

/**
 * Checks the byte ranges a tag carries (EXT-X-BYTERANGE, the BYTERANGE attribute of EXT-X-MAP and EXT-X-PART,
 * BYTERANGE-START/-LENGTH of EXT-X-PRELOAD-HINT). Files are copied whole, so the values are not used, but a playlist
 * with a negative, fractional or impossible range is hostile or broken and is refused (TRANSFER_BAD_LENGTH).
 */
function checkByteRanges(name: string, rest: string, url: string): void {
  const what = (part: string): string => `${url}: ${name}${part ? ` ${part}` : ''}`
  if (name === 'EXT-X-BYTERANGE') { parseByteRange(rest.trim(), what('')); return }
  const range = attr(BYTERANGE_ATTR, rest)
  if (range !== undefined) parseByteRange(range, what('BYTERANGE'))
  const start = attr(BYTERANGE_START_ATTR, rest)
  if (start !== undefined) parseLength(start, what('BYTERANGE-START'))
  const length = attr(BYTERANGE_LENGTH_ATTR, rest)
  if (length !== undefined) parseLength(length, what('BYTERANGE-LENGTH'))
}

const RANGED_TAGS = new Set(['EXT-X-BYTERANGE', 'EXT-X-MAP', 'EXT-X-PART', 'EXT-X-PRELOAD-HINT'])

/** Reads every URI of a playlist; throws TRANSFER_NOT_PLAYLIST for anything that is not one, TRANSFER_BAD_LENGTH for an impossible byte range. */
export function parsePlaylist(text: string, url = 'playlist'): ParsedPlaylist {
  assertPlaylistText(text, url)
  const refs: PlaylistRef[] = []
  const seen = new Set<string>()
  const add = (uri: string | undefined, kind: FileKind, playlist: boolean, tag: string): void => {
    if (!uri) return
    const u = uri.trim()
    if (!u || seen.has(u)) return
    seen.add(u)
    refs.push({ uri: u, kind, playlist, tag })
  }
  let isMaster = false
  let isMedia = false
  let endlist = false
  let expectVariant = false
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (!line) continue
    if (!line.startsWith('#')) {
      if (expectVariant) add(line, 'media', true, 'EXT-X-STREAM-INF')
      else add(line, 'segment', false, 'EXTINF')
      expectVariant = false
      continue
    }
    if (!line.startsWith('#EXT')) continue
    const colon = line.indexOf(':')
    const name = (colon < 0 ? line.slice(1) : line.slice(1, colon))
    const rest = colon < 0 ? '' : line.slice(colon + 1)
    if (RANGED_TAGS.has(name)) checkByteRanges(name, rest, url)
    switch (name) {
      case 'EXT-X-STREAM-INF': isMaster = true; expectVariant = true; break
      case 'EXT-X-I-FRAME-STREAM-INF': isMaster = true; add(attr(ATTR_URI, rest), 'media', true, name); break
      case 'EXT-X-MEDIA': isMaster = true; add(attr(ATTR_URI, rest), 'media', true, name); break
      case 'EXT-X-SESSION-DATA': isMaster = true; add(attr(ATTR_URI, rest), 'session-data', false, name); break
      case 'EXT-X-SESSION-KEY':
      case 'EXT-X-KEY':
        if (name === 'EXT-X-SESSION-KEY') isMaster = true
        if (attr(METHOD_ATTR, rest) !== 'NONE') add(keyUri(attr(ATTR_URI, rest)), 'key', false, name)
        break
      case 'EXT-X-MAP': isMedia = true; add(attr(ATTR_URI, rest), 'init', false, name); break
      case 'EXT-X-PART': isMedia = true; add(attr(ATTR_URI, rest), 'part', false, name); break
      case 'EXT-X-PRELOAD-HINT':
        isMedia = true
        add(attr(ATTR_URI, rest), attr(TYPE_ATTR, rest) === 'MAP' ? 'init' : 'part', false, name)
        break
      case 'EXT-X-RENDITION-REPORT': add(attr(ATTR_URI, rest), 'media', true, name); break
      case 'EXT-X-ENDLIST': endlist = true; break
      case 'EXTINF': case 'EXT-X-TARGETDURATION': case 'EXT-X-MEDIA-SEQUENCE': case 'EXT-X-PLAYLIST-TYPE': isMedia = true; break
      default: break
    }
  }
  addFromHlsParser(text, add)
  const master = isMaster && !isMedia
  return { isMaster: master, endlist: master ? true : endlist, refs }
}

/** Key URIs that are not files (FairPlay `skd://`, inline `data:`) are identifiers, not things to copy. */
function keyUri(uri: string | undefined): string | undefined {
  if (!uri) return undefined
  return /^(skd|data):/i.test(uri) ? undefined : uri
}

type Add = (uri: string | undefined, kind: FileKind, playlist: boolean, tag: string) => void

function addFromHlsParser(text: string, add: Add): void {
  let pl: ReturnType<typeof HLS.parse>
  try { pl = HLS.parse(text) } catch { return }
  if (pl.isMasterPlaylist) {
    const m = pl as InstanceType<typeof HLS.types.MasterPlaylist>
    for (const v of m.variants) {
      add(v.uri, 'media', true, 'hls-parser:variant')
      for (const r of [...v.audio, ...v.video, ...v.subtitles]) add(r.uri, 'media', true, 'hls-parser:rendition')
    }
    for (const d of m.sessionDataList) add(d.uri, 'session-data', false, 'hls-parser:session-data')
    for (const k of m.sessionKeyList) if (k.method !== 'NONE') add(keyUri(k.uri), 'key', false, 'hls-parser:session-key')
    return
  }
  const media = pl as InstanceType<typeof HLS.types.MediaPlaylist>
  for (const s of media.segments) {
    if (s.map?.uri) add(s.map.uri, 'init', false, 'hls-parser:map')
    if (s.key && s.key.method !== 'NONE') add(keyUri(s.key.uri), 'key', false, 'hls-parser:key')
    add(s.uri, 'segment', false, 'hls-parser:segment')
    for (const p of s.parts) add(p.uri, 'part', false, 'hls-parser:part')
  }
  for (const r of media.renditionReports) add(r.uri, 'media', true, 'hls-parser:rendition-report')
}
