// A REAL HLS library made by ffmpeg (tiny clips, tiny frames: about a second of CPU for all of it),
// covering what the crawler must follow: TS and fMP4 (EXT-X-MAP) variants, single-file byte-range mode,
// AES-128 keys, several variants per master and an alternate audio rendition.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export type FfmpegClass = {
  id: string
  /** Master playlist path relative to the library root ("ts-aes/master.m3u8"). */
  master: string
  features: string[]
}

export type FfmpegLibrary = {
  root: string
  classes: FfmpegClass[]
  /** Every file under root (relative, sorted), playlists included. */
  files: string[]
}

export type FfmpegLibraryOptions = {
  /** Seconds of media per class. @defaultValue 3 */
  seconds?: number
}

type ClassRecipe = { id: string; features: string[]; args: (dir: string) => Promise<string[]> }

const VIDEO_IN = (s: number): string[] => ['-f', 'lavfi', '-i', `testsrc=size=160x90:rate=10:duration=${s}`, '-f', 'lavfi', '-i', `sine=frequency=440:duration=${s}`]
const X264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '10', '-keyint_min', '10', '-sc_threshold', '0']
const TWO_VARIANTS = ['-s:v:0', '160x90', '-b:v:0', '100k', '-s:v:1', '96x54', '-b:v:1', '50k']
const AAC = ['-c:a', 'aac', '-b:a', '32k', '-ac', '1']
const HLS = ['-f', 'hls', '-hls_time', '1', '-hls_playlist_type', 'vod', '-master_pl_name', 'master.m3u8']
const WITH_AUDIO_GROUP = ['-map', '0:v', '-map', '0:v', '-map', '1:a', '-var_stream_map', 'v:0,agroup:aud,name:v0 v:1,agroup:aud,name:v1 a:0,agroup:aud,name:a0,default:yes']

function recipes(seconds: number, keyDir: string): ClassRecipe[] {
  return [
    {
      // TS, two variants + alternate audio, AES-128 with the key beside the master.
      id: 'ts-aes', features: ['ts', 'aes-128', 'variants', 'alternate-audio'],
      args: async (dir) => {
        const key = randomBytes(16)
        await writeFile(path.join(dir, 'enc.key'), key)
        const info = path.join(keyDir, 'ts-aes.keyinfo')
        await writeFile(info, `../enc.key\n${path.join(dir, 'enc.key')}\n${randomBytes(16).toString('hex')}\n`)
        return [...VIDEO_IN(seconds), ...WITH_AUDIO_GROUP, ...X264, ...TWO_VARIANTS, ...AAC, ...HLS, '-hls_key_info_file', info,
          '-hls_segment_filename', '%v/seg_%03d.ts', '%v/index.m3u8']
      },
    },
    {
      // fMP4 with EXT-X-MAP init sections, two variants + alternate audio.
      id: 'fmp4', features: ['fmp4', 'ext-x-map', 'variants', 'alternate-audio'],
      args: () => Promise.resolve([...VIDEO_IN(seconds), ...WITH_AUDIO_GROUP, ...X264, ...TWO_VARIANTS, ...AAC, ...HLS,
        '-hls_segment_type', 'fmp4', '-hls_fmp4_init_filename', 'init.mp4', '-hls_segment_filename', '%v/seg_%03d.m4s', '%v/index.m3u8']),
    },
    {
      // One file per variant addressed by EXT-X-BYTERANGE (muxed audio in each variant).
      id: 'single-file', features: ['ts', 'byte-range', 'variants'],
      args: () => Promise.resolve([...VIDEO_IN(seconds), '-map', '0:v', '-map', '1:a', '-map', '0:v', '-map', '1:a', ...X264, ...TWO_VARIANTS, ...AAC, ...HLS,
        '-hls_flags', 'single_file', '-var_stream_map', 'v:0,a:0,name:v0 v:1,a:1,name:v1', '-hls_segment_filename', '%v/media.ts', '%v/index.m3u8']),
    },
    {
      // fMP4 single file: EXT-X-MAP with a BYTERANGE into the same file as the segments.
      id: 'fmp4-single-file', features: ['fmp4', 'ext-x-map', 'byte-range'],
      args: () => Promise.resolve([...VIDEO_IN(seconds), '-map', '0:v', '-map', '1:a', ...X264, '-s', '160x90', '-b:v', '80k', ...AAC, ...HLS,
        '-hls_segment_type', 'fmp4', '-hls_flags', 'single_file', '-var_stream_map', 'v:0,a:0,name:v0', '-hls_segment_filename', '%v/media.mp4', '%v/index.m3u8']),
    },
  ]
}

async function listFiles(root: string, rel = ''): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(path.join(root, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name
    if (e.isDirectory()) out.push(...await listFiles(root, p))
    else out.push(p)
  }
  return out
}

/** Encodes every class under `root/<class id>/`; key-info files go to `root/../` so they are not part of the library. */
export async function generateFfmpegLibrary(root: string, options: FfmpegLibraryOptions = {}): Promise<FfmpegLibrary> {
  const keyDir = path.join(root, '..', `${path.basename(root)}-keyinfo`)
  await mkdir(keyDir, { recursive: true })
  const classes: FfmpegClass[] = []
  for (const r of recipes(options.seconds ?? 3, keyDir)) {
    const dir = path.join(root, r.id)
    await mkdir(dir, { recursive: true })
    const args = await r.args(dir)
    await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { cwd: dir, timeout: 60_000 })
    classes.push({ id: r.id, master: `${r.id}/master.m3u8`, features: r.features })
  }
  return { root, classes, files: (await listFiles(root)).sort() }
}

export type ProbeResult = { streams: Array<{ codec_type: string; width?: number }>; format: { duration?: string } }

/** ffprobe a master playlist (path or URL); local keys need allowed_extensions=ALL. Throws when ffprobe fails. */
export async function probeHls(target: string): Promise<ProbeResult> {
  const args = ['-v', 'error', '-allowed_extensions', 'ALL', '-show_entries', 'stream=codec_type,width:format=duration', '-of', 'json', target]
  const { stdout } = await run('ffprobe', args, { timeout: 30_000 })
  return JSON.parse(stdout) as ProbeResult
}
