// A deterministic synthetic HLS library: the same options always give the same paths, sizes and bytes,
// so tests can compare a copy with what the origin served without keeping a second copy around.
import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { FileKind } from '../../transfer/core/types.ts'
import { createRandom } from '../../shared/seeded-random.ts'
import { MAX_SAMPLE_FILE_BYTES, hashString, sliceParts, streamParts, syntheticParts } from './content.ts'
import { renderMasterPlaylist, renderMediaPlaylist, type PlaylistSegment, type SampleVariantSpec } from './playlists.ts'

export type { SampleVariantSpec } from './playlists.ts'

/** How one class is laid out. Every field falls back to the library's `defaults`, then to the value shown. */
export type SampleClassSpec = {
  /** Class id and directory name. @defaultValue "class-0001", "class-0002", … */
  id?: string
  /** Catalog status. @defaultValue 'ready' */
  status?: string
  /** MPEG-TS segments, or fMP4 (.m4s) with an EXT-X-MAP init section. @defaultValue 'ts' */
  container?: 'ts' | 'fmp4'
  /** One media file per variant addressed with EXT-X-BYTERANGE (ffmpeg's single_file). @defaultValue false */
  byteRange?: boolean
  /** AES-128 EXT-X-KEY with a key rotation halfway, and an EXT-X-SESSION-KEY in the master. @defaultValue false */
  encryption?: boolean
  /** Alternate audio renditions (EXT-X-MEDIA TYPE=AUDIO), by language. @defaultValue [] */
  audio?: string[]
  /** An EXT-X-I-FRAME-STREAM-INF playlist per variant (byte ranges into the same segments). @defaultValue false */
  iFrames?: boolean
  /** An EXT-X-SESSION-DATA JSON file referenced from the master. @defaultValue false */
  sessionData?: boolean
  /** The lowest N rungs of the default ladder, or an explicit ladder. @defaultValue 3 */
  variants?: number | SampleVariantSpec[]
  /** Segments per variant. @defaultValue 10 */
  segments?: number
  /** @defaultValue 4 */
  segmentSeconds?: number
  /** 'root-relative' writes URIs as "/vod/class/…" to exercise absolute-path resolution. @defaultValue 'relative' */
  uriStyle?: 'relative' | 'root-relative'
  /** False leaves EXT-X-ENDLIST out (a recording still in progress). @defaultValue true */
  endList?: boolean
  /** False lists the class in the catalog but writes none of its files (playlist missing). @defaultValue true */
  present?: boolean
}

export type SampleLibraryOptions = {
  /** Seeds sizes and bytes. @defaultValue 1 */
  seed?: number
  /** First path segment of every file. @defaultValue 'vod' */
  prefix?: string
  /** A number of classes built from `defaults`, or one spec per class. @defaultValue 3 */
  classes?: number | SampleClassSpec[]
  /** Spec fields every class inherits. @defaultValue {} */
  defaults?: SampleClassSpec
  /** Cycle container/byte-range/encryption/audio/I-frame features across numbered classes. @defaultValue false */
  varied?: boolean
  /** Add catalog entries that must NOT be transferred: aborted, test, recording, unfinished (no ENDLIST, status ready), missing playlist. @defaultValue true */
  nonTransferable?: boolean
}

export type SampleFile = {
  /** Path without a leading slash: "vod/class-0001/720p/seg-00003.ts". */
  path: string
  size: number
  contentType: string
  kind: FileKind
  classId: string
  /** Strong validator (quoted), stable across runs. */
  etag: string
  /** The bytes as buffers that concatenate to the file (zero-copy windows for media). */
  parts: () => Buffer[]
}

export type SampleClass = {
  id: string
  status: string
  /** Master playlist path (no leading slash). */
  master: string
  /** Whether a correct transfer copies this class. */
  transferable: boolean
  /** Why not, when not. */
  reason?: 'aborted' | 'test' | 'recording' | 'playlist-missing'
  /** Paths of every file of the class (empty when the playlist is missing). */
  files: string[]
}

export type SampleCatalogEntry = { id: string; url: string; status: string }

export const DEFAULT_LADDER: SampleVariantSpec[] = [
  { name: '240p', bandwidth: 300_000, resolution: '426x240' },
  { name: '360p', bandwidth: 700_000, resolution: '640x360' },
  { name: '480p', bandwidth: 1_200_000, resolution: '854x480' },
  { name: '720p', bandwidth: 2_500_000, resolution: '1280x720' },
  { name: '1080p', bandwidth: 4_500_000, resolution: '1920x1080' },
]

const CONTENT_TYPES: Record<string, string> = {
  '.m3u8': 'application/vnd.apple.mpegurl', '.ts': 'video/mp2t', '.m4s': 'video/mp4', '.mp4': 'video/mp4',
  '.aac': 'audio/aac', '.key': 'application/octet-stream', '.json': 'application/json',
}

export function contentTypeOf(p: string): string {
  return CONTENT_TYPES[path.extname(p).toLowerCase()] ?? 'application/octet-stream'
}

const VARIED: SampleClassSpec[] = [
  {},
  { container: 'fmp4', audio: ['en', 'fr'], iFrames: true, sessionData: true },
  { byteRange: true, encryption: true, iFrames: true },
  { container: 'fmp4', encryption: true, audio: ['en'], uriStyle: 'root-relative' },
  { container: 'fmp4', byteRange: true, audio: ['de'] },
]

/** The library: files by path, classes with their expected outcome, and catalog/writing helpers. */
export class SampleLibrary {
  readonly files = new Map<string, SampleFile>()
  readonly classes: SampleClass[] = []
  readonly seed: number
  readonly prefix: string

  constructor(seed: number, prefix: string) {
    this.seed = seed
    this.prefix = prefix
  }

  get totalBytes(): number {
    let n = 0
    for (const f of this.files.values()) n += f.size
    return n
  }

  /** Files a correct transfer copies (every file of every transferable class). */
  transferableFiles(): SampleFile[] {
    const out: SampleFile[] = []
    for (const c of this.classes) if (c.transferable) for (const p of c.files) { const f = this.files.get(p); if (f) out.push(f) }
    return out
  }

  /** Adds or replaces a raw file (hostile playlists, extra objects) under `classId`. */
  addFile(p: string, content: string | Buffer, options: { contentType?: string; kind?: FileKind; classId?: string } = {}): SampleFile {
    const buf = typeof content === 'string' ? Buffer.from(content) : content
    const file: SampleFile = {
      path: p.replace(/^\/+/, ''), size: buf.length, contentType: options.contentType ?? contentTypeOf(p),
      kind: options.kind ?? (p.endsWith('.m3u8') ? 'media' : 'object'), classId: options.classId ?? '',
      etag: `"${createHash('sha1').update(buf).digest('hex').slice(0, 24)}"`, parts: () => [buf],
    }
    this.files.set(file.path, file)
    return file
  }

  /** Removes a file (e.g. to make a referenced segment missing in a written copy). */
  removeFile(p: string): boolean {
    return this.files.delete(p.replace(/^\/+/, ''))
  }

  read(p: string): Buffer {
    const f = this.files.get(p.replace(/^\/+/, ''))
    if (!f) throw new Error(`no sample file ${p}`)
    return Buffer.concat(f.parts())
  }

  /** Bytes [start, end] inclusive, streamed. */
  stream(p: string, range?: { start: number; end: number }): Readable {
    const f = this.files.get(p.replace(/^\/+/, ''))
    if (!f) throw new Error(`no sample file ${p}`)
    const parts = f.parts()
    return streamParts(range ? sliceParts(parts, range.start, range.end) : parts)
  }

  /** Catalog entries (every class, transferable or not) with master URLs under `baseUrl`. */
  catalog(baseUrl: string): SampleCatalogEntry[] {
    const base = baseUrl.replace(/\/+$/, '')
    return this.classes.map((c) => ({ id: c.id, url: `${base}/${c.master}`, status: c.status }))
  }

  catalogJson(baseUrl: string): string {
    return JSON.stringify(this.catalog(baseUrl), null, 2) + '\n'
  }

  catalogNdjson(baseUrl: string): string {
    return this.catalog(baseUrl).map((e) => JSON.stringify(e)).join('\n') + '\n'
  }

  /** Writes every file under `dir` (paths kept), `concurrency` at a time; returns files and bytes written. */
  async writeTo(dir: string, options: { concurrency?: number } = {}): Promise<{ files: number; bytes: number }> {
    const all = [...this.files.values()]
    const dirs = new Set(all.map((f) => path.dirname(path.join(dir, f.path))))
    for (const d of dirs) await mkdir(d, { recursive: true })
    let next = 0
    let bytes = 0
    const worker = async (): Promise<void> => {
      while (next < all.length) {
        const f = all[next++]
        if (!f) break
        await pipeline(Readable.from(f.parts()), createWriteStream(path.join(dir, f.path)))
        bytes += f.size
      }
    }
    await Promise.all(Array.from({ length: options.concurrency ?? 16 }, worker))
    return { files: all.length, bytes }
  }
}

function ivOf(seed: number, name: string): string {
  return '0x' + createHash('sha1').update(`${seed}:${name}`).digest('hex').slice(0, 32)
}

type Builder = { lib: SampleLibrary; rnd: () => number }

function addSynthetic(b: Builder, p: string, size: number, kind: FileKind, classId: string): SampleFile {
  const seed = b.lib.seed
  const file: SampleFile = {
    path: p, size, contentType: contentTypeOf(p), kind, classId,
    etag: `"${(hashString(`${seed}:${p}:${size}`) >>> 0).toString(16).padStart(8, '0')}-${size.toString(16)}"`,
    parts: () => syntheticParts(seed, p, size),
  }
  b.lib.files.set(p, file)
  return file
}

/** A media file made of several synthetic pieces (single-file byte-range mode can exceed 2 MB). */
function addConcatenated(b: Builder, p: string, sizes: number[], kind: FileKind, classId: string): SampleFile {
  const seed = b.lib.seed
  const size = sizes.reduce((a, n) => a + n, 0)
  const file: SampleFile = {
    path: p, size, contentType: contentTypeOf(p), kind, classId,
    etag: `"${(hashString(`${seed}:${p}:${size}`) >>> 0).toString(16).padStart(8, '0')}-${size.toString(16)}"`,
    parts: () => sizes.flatMap((n, i) => syntheticParts(seed, `${p}#${i}`, n)),
  }
  b.lib.files.set(p, file)
  return file
}

function addText(b: Builder, p: string, text: string, kind: FileKind, classId: string): void {
  b.lib.addFile(p, text, { kind, classId })
}

function segmentSizes(b: Builder, avg: number, count: number, seconds: number[]): number[] {
  // Sizes follow duration (a short last segment is small), with ±30% jitter for scene complexity.
  const full = seconds[0] ?? 1
  return seconds.slice(0, count).map((s) => Math.max(100, Math.min(MAX_SAMPLE_FILE_BYTES, Math.round(avg * (0.7 + 0.6 * b.rnd()) * (s / full)))))
}

/** Writes one rendition (video variant or audio) and returns its playlist path and I-frame ranges. */
function buildRendition(b: Builder, c: Required<Omit<SampleClassSpec, 'variants'>>, classDir: string, name: string, avgBytes: number, audio: boolean): { playlist: string; iframes?: string } {
  const { id } = c
  const dir = `${classDir}/${name}`
  const ref = (target: string, from: string): string => c.uriStyle === 'root-relative' ? `/${target}` : path.posix.relative(from, target)
  const seconds = Array.from({ length: c.segments }, (_, i) => (i === c.segments - 1 ? Math.max(1, Math.round(c.segmentSeconds * (0.3 + 0.5 * b.rnd()))) : c.segmentSeconds))
  const sizes = segmentSizes(b, avgBytes, c.segments, seconds)
  const ext = c.container === 'fmp4' ? '.m4s' : audio ? '.aac' : '.ts'
  const keys = c.encryption ? [`${classDir}/keys/k0.key`, `${classDir}/keys/k1.key`] : []
  const keyAt = (i: number): { uri: string; iv: string } | undefined => {
    if (!c.encryption) return undefined
    const k = i === 0 ? keys[0] : i === Math.floor(c.segments / 2) ? keys[1] : undefined
    return k ? { uri: ref(k, dir), iv: ivOf(b.lib.seed, k) } : undefined
  }
  let map: { uri: string; range?: { length: number; offset: number } } | undefined
  const segs: PlaylistSegment[] = []
  const iframeSegs: PlaylistSegment[] = []
  if (c.byteRange) {
    const initSize = c.container === 'fmp4' ? 600 + Math.floor(b.rnd() * 600) : 0
    const file = `${dir}/media${c.container === 'fmp4' ? '.mp4' : ext}`
    addConcatenated(b, file, initSize ? [initSize, ...sizes] : sizes, 'segment', id)
    if (initSize) map = { uri: ref(file, dir), range: { length: initSize, offset: 0 } }
    let offset = initSize
    sizes.forEach((n, i) => {
      segs.push({ uri: ref(file, dir), duration: seconds[i] ?? 1, range: { length: n, offset }, key: keyAt(i) })
      iframeSegs.push({ uri: ref(file, dir), duration: seconds[i] ?? 1, range: { length: Math.max(1, Math.floor(n / 8)), offset } })
      offset += n
    })
  } else {
    if (c.container === 'fmp4') {
      const init = `${dir}/init.mp4`
      addSynthetic(b, init, 600 + Math.floor(b.rnd() * 600), 'init', id)
      map = { uri: ref(init, dir) }
    }
    sizes.forEach((n, i) => {
      const seg = `${dir}/seg-${String(i).padStart(5, '0')}${ext}`
      addSynthetic(b, seg, n, 'segment', id)
      segs.push({ uri: ref(seg, dir), duration: seconds[i] ?? 1, key: keyAt(i) })
      iframeSegs.push({ uri: ref(seg, dir), duration: seconds[i] ?? 1, range: { length: Math.max(1, Math.floor(n / 8)), offset: 0 } })
    })
  }
  for (const k of keys) if (!b.lib.files.has(k)) addSynthetic(b, k, 16, 'key', id)
  const version = c.container === 'fmp4' ? 7 : c.byteRange ? 4 : 3
  const playlist = `${dir}/index.m3u8`
  addText(b, playlist, renderMediaPlaylist({ version, targetDuration: c.segmentSeconds, segments: segs, map, endList: c.endList }), 'media', id)
  if (!c.iFrames || audio) return { playlist }
  const iframes = `${dir}/iframes.m3u8`
  addText(b, iframes, renderMediaPlaylist({ version: Math.max(version, 4), targetDuration: c.segmentSeconds, segments: iframeSegs, map, iFramesOnly: true, endList: c.endList }), 'media', id)
  return { playlist, iframes }
}

function buildClass(b: Builder, spec: SampleClassSpec, index: number): SampleClass {
  const c: Required<Omit<SampleClassSpec, 'variants'>> & { variants: number | SampleVariantSpec[] } = {
    id: spec.id ?? `class-${String(index + 1).padStart(4, '0')}`, status: spec.status ?? 'ready', container: spec.container ?? 'ts',
    byteRange: spec.byteRange ?? false, encryption: spec.encryption ?? false, audio: spec.audio ?? [], iFrames: spec.iFrames ?? false,
    sessionData: spec.sessionData ?? false, variants: spec.variants ?? 3, segments: spec.segments ?? 10, segmentSeconds: spec.segmentSeconds ?? 4,
    uriStyle: spec.uriStyle ?? 'relative', endList: spec.endList ?? true, present: spec.present ?? true,
  }
  const classDir = `${b.lib.prefix}/${c.id}`
  const master = `${classDir}/master.m3u8`
  const reason = c.status === 'aborted' ? 'aborted' : c.status === 'test' ? 'test' : !c.present ? 'playlist-missing' : (c.status === 'recording' || !c.endList) ? 'recording' : undefined
  const entry: SampleClass = { id: c.id, status: c.status, master, transferable: reason === undefined, files: [], ...(reason ? { reason } : {}) }
  if (!c.present) return entry
  const before = new Set(b.lib.files.keys())
  const ladder = typeof c.variants === 'number' ? DEFAULT_LADDER.slice(0, Math.max(1, Math.min(DEFAULT_LADDER.length, c.variants))) : c.variants
  const ref = (target: string): string => c.uriStyle === 'root-relative' ? `/${target}` : path.posix.relative(classDir, target)
  const vcodec = c.container === 'fmp4' ? 'avc1.64001f' : 'avc1.4d401e'
  const codecs = c.audio.length ? vcodec : `${vcodec},mp4a.40.2`
  const audio = c.audio.map((lang, i) => ({ uri: ref(buildRendition(b, c, classDir, `audio/${lang}`, 128_000 / 8 * c.segmentSeconds, true).playlist), language: lang, isDefault: i === 0 }))
  const variants: Array<{ uri: string; spec: SampleVariantSpec; codecs: string; audioGroup?: string }> = []
  const iFrames: Array<{ uri: string; spec: SampleVariantSpec; codecs: string }> = []
  for (const v of ladder) {
    const r = buildRendition(b, c, classDir, v.name, v.segmentBytes ?? (v.bandwidth / 8) * c.segmentSeconds, false)
    variants.push({ uri: ref(r.playlist), spec: v, codecs: c.audio.length ? `${codecs},mp4a.40.2` : codecs, ...(c.audio.length ? { audioGroup: 'aud' } : {}) })
    if (r.iframes) iFrames.push({ uri: ref(r.iframes), spec: v, codecs: vcodec })
  }
  let sessionData: { id: string; uri: string } | undefined
  if (c.sessionData) {
    const p = `${classDir}/meta/chapters.json`
    addText(b, p, JSON.stringify({ class: c.id, chapters: [{ start: 0, title: 'Intro' }] }) + '\n', 'session-data', c.id)
    sessionData = { id: 'com.example.chapters', uri: ref(p) }
  }
  const sessionKey = c.encryption ? { uri: ref(`${classDir}/keys/k0.key`), iv: ivOf(b.lib.seed, `${classDir}/keys/k0.key`) } : undefined
  addText(b, master, renderMasterPlaylist({ version: c.container === 'fmp4' ? 7 : 4, variants, audio, iFrames, sessionKey, sessionData }), 'master', c.id)
  entry.files = [...b.lib.files.keys()].filter((k) => !before.has(k))
  return entry
}

/** Builds a library in memory (playlists as text, media as deterministic lazy bytes). */
export function generateSampleLibrary(options: SampleLibraryOptions = {}): SampleLibrary {
  const seed = options.seed ?? 1
  const lib = new SampleLibrary(seed, options.prefix ?? 'vod')
  const b: Builder = { lib, rnd: createRandom(seed) }
  const defaults = options.defaults ?? {}
  const specs: SampleClassSpec[] = typeof options.classes === 'object'
    ? options.classes.map((s) => ({ ...defaults, ...s }))
    : Array.from({ length: options.classes ?? 3 }, (_, i) => ({ ...defaults, ...(options.varied ? VARIED[i % VARIED.length] : {}) }))
  specs.forEach((s, i) => lib.classes.push(buildClass(b, s, i)))
  if (options.nonTransferable ?? true) {
    const small: SampleClassSpec = { ...defaults, variants: 1, segments: 3, audio: [], iFrames: false }
    const extra: SampleClassSpec[] = [
      { ...small, id: 'aborted-0001', status: 'aborted' },
      { ...small, id: 'test-0001', status: 'test' },
      { ...small, id: 'recording-0001', status: 'recording', endList: false },
      { ...small, id: 'unfinished-0001', status: 'ready', endList: false },
      { ...small, id: 'missing-0001', status: 'ready', present: false },
    ]
    extra.forEach((s, i) => lib.classes.push(buildClass(b, s, specs.length + i)))
  }
  return lib
}
