// A one-class HLS library whose playlists name every file by absolute URL on its own origin (what a CDN-bound
// library looks like): the input of the --rewrite-uri tests, embedded and distributed.
import type { OriginFile } from './origin-fixture.ts'

/** One class whose playlists name everything by absolute URL on the origin itself (what a CDN-bound library does). */
export function absoluteLibrary(base: string): Map<string, OriginFile> {
  const m3u8 = 'application/vnd.apple.mpegurl'
  const files = new Map<string, OriginFile>()
  const bin = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff))
  files.set('/abs/master.m3u8', { type: m3u8, body: Buffer.from([
    '#EXTM3U',
    `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="en",URI="${base}/abs/audio/index.m3u8"`,
    `#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=90000,URI="${base}/abs/video/iframes.m3u8"`,
    '#EXT-X-STREAM-INF:BANDWIDTH=500000,AUDIO="a"',
    `${base}/abs/video/index.m3u8`, '',
  ].join('\r\n')) })
  files.set('/abs/video/index.m3u8', { type: m3u8, body: Buffer.from([
    '#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-TARGETDURATION:4',
    `#EXT-X-KEY:METHOD=AES-128,URI="${base}/abs/keys/k.key",IV=0x1`,
    `#EXT-X-MAP:URI="${base}/abs/video/init.mp4"`,
    '#EXTINF:4,', `${base}/abs/video/s0.m4s`, '#EXTINF:4,', 's1.m4s', '#EXT-X-ENDLIST', '',
  ].join('\n')) })
  files.set('/abs/video/iframes.m3u8', { type: m3u8, body: Buffer.from(`#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-I-FRAMES-ONLY\n#EXTINF:4,\n${base}/abs/video/s0.m4s\n#EXT-X-ENDLIST\n`) })
  files.set('/abs/audio/index.m3u8', { type: m3u8, body: Buffer.from(`#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n${base}/abs/audio/a0.aac\n#EXT-X-ENDLIST\n`) })
  files.set('/abs/keys/k.key', { type: 'application/octet-stream', body: bin(16, 1) })
  files.set('/abs/video/init.mp4', { type: 'video/mp4', body: bin(700, 2) })
  files.set('/abs/video/s0.m4s', { type: 'video/iso.segment', body: bin(5000, 3) })
  files.set('/abs/video/s1.m4s', { type: 'video/iso.segment', body: bin(4000, 4) })
  // A segment whose bytes contain the old URL: only playlists are rewritten.
  files.set('/abs/audio/a0.aac', { type: 'audio/aac', body: Buffer.from(`${base}/abs/ inside a segment`) })
  return files
}
