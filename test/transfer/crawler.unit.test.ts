import { test } from 'node:test'
import assert from 'node:assert/strict'
import { HostAllowList } from '../../src/shared/allow-host.ts'
import { checkLength, parseLength } from '../../src/transfer/core/lengths.ts'
import { crawlClass, type FetchText } from '../../src/transfer/core/crawler.ts'
import { parsePlaylist } from '../../src/transfer/core/playlist-uris.ts'
import { keyForUrl, keyForPath } from '../../src/transfer/core/keys.ts'
import { TRANSFER_CODES } from '../../src/transfer/errors.ts'

/** An in-memory origin: url → text, with optional redirects (url → final url). */
function memoryFetch(pages: Record<string, string>, redirects: Record<string, string> = {}): FetchText & { calls: string[] } {
  const calls: string[] = []
  const fn = async (url: string, o: { maxBytes: number }): Promise<{ text: string; url: string }> => {
    calls.push(url)
    const final = redirects[url] ?? url
    const text = pages[final]
    if (text === undefined) throw Object.assign(new Error(`404 ${final}`), { code: 'ENOENT' })
    if (text.length > o.maxBytes) {
      const { TransferError } = await import('../../src/transfer/errors.ts')
      throw new TransferError(TRANSFER_CODES.PLAYLIST_TOO_LARGE, `${final} too large`)
    }
    return { text, url: final }
  }
  return Object.assign(fn, { calls })
}

const O = 'http://origin.test'

test('master: variants, EXT-X-MEDIA, I-frame, session key and session data are all followed', async () => {
  const fetch = memoryFetch({
    [`${O}/lib/c1/master.m3u8`]: [
      '#EXTM3U',
      '#EXT-X-SESSION-DATA:DATA-ID="com.example.title",URI="meta/title.json"',
      '#EXT-X-SESSION-KEY:METHOD=AES-128,URI="keys/session.key"',
      '#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="skd://fairplay-id",KEYFORMAT="com.apple.streamingkeydelivery"',
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",DEFAULT=YES,URI="audio/en/index.m3u8"',
      '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="fr",URI="subs/fr/index.m3u8"',
      '#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="cc1",INSTREAM-ID="CC1"',
      '#EXT-X-STREAM-INF:BANDWIDTH=800000,AUDIO="aud",SUBTITLES="subs"',
      'v360/index.m3u8',
      '#EXT-X-STREAM-INF:BANDWIDTH=2000000,AUDIO="aud"',
      `${O}/lib/c1/v720/index.m3u8?token=abc`,
      '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=100000,URI="v360/iframes.m3u8"',
    ].join('\n'),
    [`${O}/lib/c1/v360/index.m3u8`]: '#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-KEY:METHOD=AES-128,URI="../keys/k1.key",IV=0x1\n#EXTINF:4,\ns0.ts\n#EXTINF:4,\ns1.ts?x=1\n#EXT-X-KEY:METHOD=NONE\n#EXTINF:4,\n/lib/c1/v360/s2.ts\n#EXT-X-ENDLIST\n',
    [`${O}/lib/c1/v720/index.m3u8?token=abc`]: '#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:4,\nseg0.m4s\n#EXTINF:4,\nseg1.m4s\n#EXT-X-ENDLIST\n',
    [`${O}/lib/c1/v360/iframes.m3u8`]: '#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-I-FRAMES-ONLY\n#EXTINF:4,\n#EXT-X-BYTERANGE:1000@0\ns0.ts\n#EXT-X-ENDLIST\n',
    [`${O}/lib/c1/audio/en/index.m3u8`]: '#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na0.aac\n#EXT-X-ENDLIST\n',
    [`${O}/lib/c1/subs/fr/index.m3u8`]: '#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nfr0.vtt\n#EXT-X-ENDLIST\n',
  })
  const r = await crawlClass({ id: 'c1', source: `${O}/lib/c1/master.m3u8` }, { fetchText: fetch })
  assert.deepEqual(r.problems, [])
  assert.equal(r.complete, true)
  assert.equal(r.skipReason, undefined)
  const byKey = Object.fromEntries(r.files.map((f) => [f.key, f.kind]))
  assert.deepEqual(byKey, {
    'lib/c1/master.m3u8': 'master',
    'lib/c1/meta/title.json': 'session-data',
    'lib/c1/keys/session.key': 'key',
    'lib/c1/audio/en/index.m3u8': 'media',
    'lib/c1/subs/fr/index.m3u8': 'media',
    'lib/c1/v360/index.m3u8': 'media',
    'lib/c1/v720/index.m3u8': 'media',
    'lib/c1/v360/iframes.m3u8': 'media',
    'lib/c1/keys/k1.key': 'key',
    'lib/c1/v360/s0.ts': 'segment',
    'lib/c1/v360/s1.ts': 'segment',
    'lib/c1/v360/s2.ts': 'segment',
    'lib/c1/v720/init.mp4': 'init',
    'lib/c1/v720/seg0.m4s': 'segment',
    'lib/c1/v720/seg1.m4s': 'segment',
    'lib/c1/audio/en/a0.aac': 'segment',
    'lib/c1/subs/fr/fr0.vtt': 'segment',
  })
  // The query string stays on the source URL (the origin may need it) but never reaches the key.
  assert.equal(r.files.find((f) => f.key === 'lib/c1/v360/s1.ts')?.source, `${O}/lib/c1/v360/s1.ts?x=1`)
  // Each playlist fetched once even though s0.ts is referenced twice (segment + byte-range I-frame).
  assert.equal(new Set(fetch.calls).size, fetch.calls.length)
})

test('byte ranges: a file referenced by many EXT-X-BYTERANGE slices is one file, copied whole', async () => {
  const fetch = memoryFetch({
    [`${O}/v/single.m3u8`]: '#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-TARGETDURATION:4\n#EXT-X-MAP:URI="main.mp4",BYTERANGE="720@0"\n#EXTINF:4,\n#EXT-X-BYTERANGE:5000@720\nmain.mp4\n#EXTINF:4,\n#EXT-X-BYTERANGE:5000\nmain.mp4\n#EXT-X-ENDLIST\n',
  })
  const r = await crawlClass({ id: 'single', source: `${O}/v/single.m3u8` }, { fetchText: fetch })
  assert.deepEqual(r.files.map((f) => f.key).sort(), ['v/main.mp4', 'v/single.m3u8'])
})

test('LL-HLS: EXT-X-PART, EXT-X-PRELOAD-HINT (part and map) and rendition reports', async () => {
  const fetch = memoryFetch({
    [`${O}/ll/a.m3u8`]: [
      '#EXTM3U', '#EXT-X-TARGETDURATION:4', '#EXT-X-VERSION:9', '#EXT-X-PART-INF:PART-TARGET=1.0',
      '#EXT-X-MAP:URI="init.mp4"',
      '#EXT-X-PART:DURATION=1.0,URI="s0.p0.m4s",INDEPENDENT=YES', '#EXT-X-PART:DURATION=1.0,URI="s0.p1.m4s"',
      '#EXTINF:2.0,', 's0.m4s',
      '#EXT-X-PART:DURATION=1.0,URI="s1.p0.m4s"',
      '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="s1.p1.m4s"',
      '#EXT-X-PRELOAD-HINT:TYPE=MAP,URI="init2.mp4"',
      '#EXT-X-RENDITION-REPORT:URI="b.m3u8",LAST-MSN=1,LAST-PART=1',
      '#EXT-X-ENDLIST',
    ].join('\n'),
    [`${O}/ll/b.m3u8`]: '#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:2,\nb0.m4s\n#EXT-X-RENDITION-REPORT:URI="a.m3u8",LAST-MSN=1\n#EXT-X-ENDLIST\n',
  })
  const r = await crawlClass({ id: 'll', source: `${O}/ll/a.m3u8` }, { fetchText: fetch })
  const kinds = Object.fromEntries(r.files.map((f) => [f.key.replace('ll/', ''), f.kind]))
  assert.deepEqual(kinds, {
    'a.m3u8': 'media', 'init.mp4': 'init', 's0.p0.m4s': 'part', 's0.p1.m4s': 'part', 's0.m4s': 'segment', 's1.p0.m4s': 'part',
    's1.p1.m4s': 'part', 'init2.mp4': 'init', 'b.m3u8': 'media', 'b0.m4s': 'segment',
  })
  // b → a is a report back to an ancestor: recorded as a loop problem, nothing fetched twice.
  assert.equal(fetch.calls.length, 2)
})

test('redirects: the final URL is the base for relative URIs; keys keep the referenced path', async () => {
  const fetch = memoryFetch({
    [`${O}/v/real/index.m3u8`]: '#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nseg.ts\n#EXT-X-ENDLIST\n',
  }, { [`${O}/v/index.m3u8`]: `${O}/v/real/index.m3u8` })
  const r = await crawlClass({ id: 'r', source: `${O}/v/index.m3u8` }, { fetchText: fetch })
  assert.deepEqual(r.files.map((f) => f.key), ['v/index.m3u8', 'v/real/seg.ts'])
})

test('hostile: ../ escapes and foreign hosts are class problems; allowed hosts pass; the rest is still crawled', async () => {
  const fetch = memoryFetch({
    [`${O}/lib/c2/master.m3u8`]: '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2\n../c3/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=3\n../../../../etc/passwd.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=4\nhttp://evil.test/x.m3u8\n',
    [`${O}/lib/c2/v/index.m3u8`]: '#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n%2e%2e/%2e%2e/secret.ts\n#EXTINF:4,\nhttp://cdn.test/lib/c2/v/s1.ts\n#EXTINF:4,\nfile:///etc/shadow\n#EXTINF:4,\ns0.ts\n#EXT-X-ENDLIST\n',
  })
  const r = await crawlClass({ id: 'c2', source: `${O}/lib/c2/master.m3u8` }, { fetchText: fetch, allowHosts: new HostAllowList(['cdn.test']) })
  const codes = r.problems.map((p) => p.code).sort()
  assert.deepEqual(codes, [TRANSFER_CODES.FORBIDDEN_HOST, TRANSFER_CODES.FORBIDDEN_HOST, TRANSFER_CODES.PATH_ESCAPE, TRANSFER_CODES.PATH_ESCAPE, TRANSFER_CODES.PATH_ESCAPE])
  assert.deepEqual(r.files.map((f) => f.key).sort(), ['lib/c2/master.m3u8', 'lib/c2/v/index.m3u8', 'lib/c2/v/s0.ts', 'lib/c2/v/s1.ts'])
  assert.ok(!fetch.calls.some((u) => u.includes('evil') || u.includes('c3') || u.includes('etc')))
})

test('hostile: playlist loops are reported and terminate', async () => {
  const fetch = memoryFetch({
    [`${O}/l/a.m3u8`]: '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nb.m3u8\n',
    [`${O}/l/b.m3u8`]: '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n',
  })
  const r = await crawlClass({ id: 'loop', source: `${O}/l/a.m3u8` }, { fetchText: fetch })
  assert.ok(r.problems.some((p) => p.code === TRANSFER_CODES.PLAYLIST_LOOP))
  assert.equal(fetch.calls.length, 2)
})

test('hostile: non-playlist content, absurd size, depth and file-count limits', async () => {
  const notPl = await crawlClass({ id: 'x', source: `${O}/x/index.m3u8` }, { fetchText: memoryFetch({ [`${O}/x/index.m3u8`]: '<html>nope</html>' }) })
  assert.equal(notPl.skipReason, 'not-a-playlist')
  assert.equal(notPl.problems[0]?.code, TRANSFER_CODES.NOT_PLAYLIST)

  const big = `#EXTM3U\n#EXT-X-TARGETDURATION:4\n${'#EXTINF:4,\nseg.ts\n'.repeat(2000)}#EXT-X-ENDLIST\n`
  const tooLarge = await crawlClass({ id: 'big', source: `${O}/b/i.m3u8` }, { fetchText: memoryFetch({ [`${O}/b/i.m3u8`]: big }), maxPlaylistBytes: 10_000 })
  assert.equal(tooLarge.skipReason, 'too-large')

  const many = `#EXTM3U\n#EXT-X-TARGETDURATION:4\n${Array.from({ length: 50 }, (_, i) => `#EXTINF:4,\ns${i}.ts\n`).join('')}#EXT-X-ENDLIST\n`
  const capped = await crawlClass({ id: 'many', source: `${O}/m/i.m3u8` }, { fetchText: memoryFetch({ [`${O}/m/i.m3u8`]: many }), maxFiles: 10 })
  assert.equal(capped.files.length, 10)
  assert.ok(capped.problems.some((p) => p.code === TRANSFER_CODES.TOO_MANY_FILES))

  const nested = memoryFetch({
    [`${O}/d/0.m3u8`]: '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n1.m3u8\n',
    [`${O}/d/1.m3u8`]: '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n2.m3u8\n',
    [`${O}/d/2.m3u8`]: '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n3.m3u8\n',
  })
  const deep = await crawlClass({ id: 'deep', source: `${O}/d/0.m3u8` }, { fetchText: nested, maxDepth: 1 })
  assert.ok(deep.problems.some((p) => p.code === TRANSFER_CODES.PLAYLIST_TOO_DEEP))
})

test('missing playlists: entry → class skipped as playlist-missing; a variant → a problem naming it', async () => {
  const none = await crawlClass({ id: 'gone', source: `${O}/g/master.m3u8` }, { fetchText: memoryFetch({}) })
  assert.equal(none.skipReason, 'playlist-missing')
  const partial = await crawlClass({ id: 'p', source: `${O}/p/master.m3u8` }, {
    fetchText: memoryFetch({ [`${O}/p/master.m3u8`]: '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv1.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2\nv2.m3u8\n', [`${O}/p/v1.m3u8`]: '#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.ts\n#EXT-X-ENDLIST\n' }),
  })
  assert.equal(partial.skipReason, undefined)
  assert.deepEqual(partial.problems.map((p) => [p.key, p.code]), [['p/v2.m3u8', TRANSFER_CODES.NOT_FOUND]])
})

test('recording (no EXT-X-ENDLIST) is skipped unless allowed', async () => {
  const pages = { [`${O}/live/i.m3u8`]: '#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.ts\n' }
  const r = await crawlClass({ id: 'live', source: `${O}/live/i.m3u8` }, { fetchText: memoryFetch(pages) })
  assert.equal(r.complete, false)
  assert.equal(r.skipReason, 'recording')
  const allowed = await crawlClass({ id: 'live', source: `${O}/live/i.m3u8` }, { fetchText: memoryFetch(pages), allowIncomplete: true })
  assert.equal(allowed.skipReason, undefined)
  assert.equal(allowed.files.length, 2)
})

test('retryable playlist errors are retried; keys honour --strip-prefix', async () => {
  let n = 0
  const flaky: FetchText = async (url) => {
    if (n++ < 2) throw Object.assign(new Error('reset'), { code: 'ECONNRESET' })
    return { text: '#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.ts\n#EXT-X-ENDLIST\n', url }
  }
  const r = await crawlClass({ id: 'f', source: `${O}/vod/f/i.m3u8` }, { fetchText: flaky, retryBaseMs: 1, stripPrefix: '/vod/' })
  assert.deepEqual(r.files.map((f) => f.key), ['f/i.m3u8', 'f/a.ts'])
  assert.equal(keyForUrl('http://h/vod/x/%20y.ts?q=1', 'vod'), 'x/ y.ts')
  assert.throws(() => keyForPath('a/%2e%2e/%2e%2e/b'), { code: 'COLONY_PATH_ESCAPE' })
})

test('parsePlaylist refuses non-playlists and reports master/endlist', () => {
  assert.throws(() => parsePlaylist('{"json": true}'), { code: TRANSFER_CODES.NOT_PLAYLIST })
  assert.equal(parsePlaylist('\uFEFF#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n').isMaster, true)
  assert.equal(parsePlaylist('#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXT-X-ENDLIST').endlist, true)
})

test('byte ranges: negative, fractional, non-numeric or past 2^53 − 1 values refuse the playlist with TRANSFER_BAD_LENGTH', () => {
  const media = (tags: string): string => `#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n${tags}\n#EXTINF:4,\nmain.mp4\n#EXT-X-ENDLIST\n`
  const bad = [
    '#EXT-X-BYTERANGE:-5@0', '#EXT-X-BYTERANGE:1.5@3', '#EXT-X-BYTERANGE:99999999999999999999999@0', '#EXT-X-BYTERANGE:10@-1',
    '#EXT-X-BYTERANGE:abc', '#EXT-X-BYTERANGE:10@1e3', '#EXT-X-BYTERANGE:', '#EXT-X-BYTERANGE:9007199254740991@1', '#EXT-X-BYTERANGE:NaN',
    '#EXT-X-MAP:URI="init.mp4",BYTERANGE="-720@0"', '#EXT-X-MAP:URI="init.mp4",BYTERANGE="720@0.5"',
    '#EXT-X-PART:DURATION=1.0,URI="p.m4s",BYTERANGE="1e9"', '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p.m4s",BYTERANGE-START=-1',
    '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p.m4s",BYTERANGE-START=0,BYTERANGE-LENGTH=1.5',
  ]
  for (const tag of bad) {
    assert.throws(() => parsePlaylist(media(tag), 'http://o/v.m3u8'), (err: { code?: string; message?: string; retryable?: boolean }) => {
      assert.equal(err.code, TRANSFER_CODES.BAD_LENGTH, tag)
      assert.equal(err.retryable, false)
      assert.match(err.message ?? '', /http:\/\/o\/v\.m3u8/, 'names the playlist')
      return true
    }, tag)
  }
  for (const tag of ['#EXT-X-BYTERANGE:5000@720', '#EXT-X-BYTERANGE:0', '#EXT-X-MAP:URI="init.mp4",BYTERANGE="720@0"', '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p.m4s",BYTERANGE-START=10,BYTERANGE-LENGTH=20']) {
    assert.doesNotThrow(() => parsePlaylist(media(tag)), tag)
  }
})

test('byte ranges: a hostile entry playlist skips its class as hostile-playlist; a hostile variant is a problem of the class', async () => {
  const pages = {
    [`${O}/br/entry.m3u8`]: '#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-BYTERANGE:-1@-1\n#EXTINF:4,\nmain.mp4\n#EXT-X-ENDLIST\n',
    [`${O}/br/master.m3u8`]: '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\ngood.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2\nbad.m3u8\n',
    [`${O}/br/good.m3u8`]: '#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\ng.ts\n#EXT-X-ENDLIST\n',
    [`${O}/br/bad.m3u8`]: '#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-BYTERANGE:18446744073709551616@0\n#EXTINF:4,\nb.mp4\n#EXT-X-ENDLIST\n',
  }
  const entry = await crawlClass({ id: 'e', source: `${O}/br/entry.m3u8` }, { fetchText: memoryFetch(pages) })
  assert.equal(entry.skipReason, 'hostile-playlist')
  assert.deepEqual(entry.problems.map((p) => p.code), [TRANSFER_CODES.BAD_LENGTH])
  const master = await crawlClass({ id: 'm', source: `${O}/br/master.m3u8` }, { fetchText: memoryFetch(pages) })
  assert.equal(master.skipReason, undefined)
  assert.deepEqual(master.problems.map((p) => [p.key, p.code]), [['br/bad.m3u8', TRANSFER_CODES.BAD_LENGTH]])
  assert.ok(master.files.some((f) => f.key === 'br/good.m3u8') && master.files.some((f) => f.key === 'br/g.ts'))
  assert.ok(!master.files.some((f) => f.key === 'br/b.mp4'), 'nothing listed by the hostile playlist is copied')
})

test('lengths: Content-Length and S3 sizes are whole numbers from 0 to 2^53 − 1', () => {
  assert.equal(parseLength('0', 'x'), 0)
  assert.equal(parseLength('9007199254740991', 'x'), Number.MAX_SAFE_INTEGER)
  for (const v of ['-1', '+1', '1.0', '1e3', '0x10', ' 1', '1 ', '', '9007199254740992', '99999999999999999999', 'NaN', 'Infinity']) {
    assert.throws(() => parseLength(v, 'Content-Length'), { code: TRANSFER_CODES.BAD_LENGTH }, v)
  }
  for (const v of [-1, 0.5, NaN, Infinity, 2 ** 53]) assert.throws(() => checkLength(v, 'Size'), { code: TRANSFER_CODES.BAD_LENGTH }, String(v))
  assert.equal(checkLength(42, 'Size'), 42)
})
