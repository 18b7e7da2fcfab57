// Playlist text for synthetic classes. Pure functions of a class layout; no I/O.

/** One rung of a bitrate ladder. */
export type SampleVariantSpec = {
  /** Directory name of the variant ("720p"). */
  name: string
  /** Peak bits per second, written to BANDWIDTH and used to size segments. */
  bandwidth: number
  /** "1280x720". @defaultValue none */
  resolution?: string
  /** Average segment size in bytes, overriding bandwidth × duration. @defaultValue bandwidth / 8 × segmentSeconds */
  segmentBytes?: number
}

/** A media segment as a playlist lists it. */
export type PlaylistSegment = {
  uri: string
  duration: number
  /** For byte-range (single file) and I-frame playlists. */
  range?: { length: number; offset: number }
  /** Key line to emit before this segment (rotation). */
  key?: { uri: string; iv: string }
}

export type MediaPlaylistOptions = {
  targetDuration: number
  segments: PlaylistSegment[]
  /** fMP4 init section. */
  map?: { uri: string; range?: { length: number; offset: number } }
  iFramesOnly?: boolean
  endList: boolean
  version: number
}

export function renderMediaPlaylist(o: MediaPlaylistOptions): string {
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${o.version}`, `#EXT-X-TARGETDURATION:${o.targetDuration}`, '#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-PLAYLIST-TYPE:' + (o.endList ? 'VOD' : 'EVENT')]
  if (o.iFramesOnly) lines.push('#EXT-X-I-FRAMES-ONLY')
  if (o.map) lines.push(`#EXT-X-MAP:URI="${o.map.uri}"${o.map.range ? `,BYTERANGE="${o.map.range.length}@${o.map.range.offset}"` : ''}`)
  for (const s of o.segments) {
    if (s.key) lines.push(`#EXT-X-KEY:METHOD=AES-128,URI="${s.key.uri}",IV=${s.key.iv}`)
    lines.push(`#EXTINF:${s.duration.toFixed(3)},`)
    if (s.range) lines.push(`#EXT-X-BYTERANGE:${s.range.length}@${s.range.offset}`)
    lines.push(s.uri)
  }
  if (o.endList) lines.push('#EXT-X-ENDLIST')
  return lines.join('\n') + '\n'
}

export type MasterPlaylistOptions = {
  version: number
  variants: Array<{ uri: string; spec: SampleVariantSpec; codecs: string; audioGroup?: string }>
  audio: Array<{ uri: string; language: string; isDefault: boolean }>
  iFrames: Array<{ uri: string; spec: SampleVariantSpec; codecs: string }>
  sessionKey?: { uri: string; iv: string }
  sessionData?: { id: string; uri: string }
}

export function renderMasterPlaylist(o: MasterPlaylistOptions): string {
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${o.version}`, '#EXT-X-INDEPENDENT-SEGMENTS']
  if (o.sessionKey) lines.push(`#EXT-X-SESSION-KEY:METHOD=AES-128,URI="${o.sessionKey.uri}",IV=${o.sessionKey.iv}`)
  if (o.sessionData) lines.push(`#EXT-X-SESSION-DATA:DATA-ID="${o.sessionData.id}",URI="${o.sessionData.uri}"`)
  for (const a of o.audio) {
    lines.push(`#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",LANGUAGE="${a.language}",NAME="${a.language}",DEFAULT=${a.isDefault ? 'YES' : 'NO'},AUTOSELECT=YES,URI="${a.uri}"`)
  }
  for (const v of o.variants) {
    const attrs = [`BANDWIDTH=${v.spec.bandwidth}`, `AVERAGE-BANDWIDTH=${Math.round(v.spec.bandwidth * 0.8)}`, `CODECS="${v.codecs}"`]
    if (v.spec.resolution) attrs.push(`RESOLUTION=${v.spec.resolution}`)
    if (v.audioGroup) attrs.push(`AUDIO="${v.audioGroup}"`)
    lines.push(`#EXT-X-STREAM-INF:${attrs.join(',')}`, v.uri)
  }
  for (const f of o.iFrames) {
    const attrs = [`BANDWIDTH=${Math.round(f.spec.bandwidth / 10)}`, `CODECS="${f.codecs}"`]
    if (f.spec.resolution) attrs.push(`RESOLUTION=${f.spec.resolution}`)
    lines.push(`#EXT-X-I-FRAME-STREAM-INF:${attrs.join(',')},URI="${f.uri}"`)
  }
  return lines.join('\n') + '\n'
}
