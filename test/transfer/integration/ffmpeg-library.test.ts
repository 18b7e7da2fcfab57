// A real ffmpeg library (TS+AES-128, fMP4+EXT-X-MAP, single-file byte-range, variants, alternate audio)
// served by nginx, copied by the CLI to a directory and to s3rver: every file byte-identical, Content-Type
// kept on S3, and ffprobe opens the copied masters.
import assert from 'node:assert/strict'
import { readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { generateFfmpegLibrary, probeHls, type FfmpegLibrary } from '../../helpers/hls-ffmpeg.ts'
import { makeTempDir, startNginx, startS3rver, type Service } from '../../../support/services.ts'
import { getS3, listS3, listTree, readReport, runCli, s3Client, S3_ENV } from './run-cli.ts'

let work: string
let lib: FfmpegLibrary
let nginx: Service
let s3: Service

before(async () => {
  work = await makeTempDir('colony-it-ffmpeg-')
  lib = await generateFfmpegLibrary(path.join(work, 'origin', 'hls'))
  nginx = await startNginx({ root: path.join(work, 'origin') })
  s3 = await startS3rver(['media'])
})
after(async () => {
  await nginx?.stop()
  await s3?.stop()
  await rm(work, { recursive: true, force: true })
})

const masters = (): string[] => lib.classes.map((c) => `${nginx.url}/hls/${c.master}`)

test('ffmpeg library → directory: byte-identical, report verified, ffprobe opens every copied master', { timeout: 120_000 }, async () => {
  const dest = path.join(work, 'dest-dir')
  const reportFile = path.join(work, 'dir-report.json')
  const r = await runCli(['transfer', ...masters(), '--to', dest, '--state', path.join(work, 'state-dir'), '--report', reportFile], { cwd: work })
  assert.equal(r.code, 0, r.stderr + r.stdout)
  assert.deepEqual(await listTree(dest), lib.files.map((f) => `hls/${f}`), 'exactly the library, under its URL paths')
  for (const f of lib.files) {
    assert.ok((await readFile(path.join(dest, 'hls', f))).equals(await readFile(path.join(lib.root, f))), f)
  }
  const report = await readReport(reportFile)
  assert.equal(report.ok, true)
  assert.equal(report.totals.verified, lib.files.length)
  assert.equal(report.totals.missing, 0)
  assert.deepEqual(report.classes.map((c) => c.state), lib.classes.map(() => 'verified'))
  for (const c of lib.classes) {
    const probe = await probeHls(path.join(dest, 'hls', c.master))
    assert.ok(probe.streams.some((s) => s.codec_type === 'video'), `${c.id}: video stream`)
    assert.ok(probe.streams.some((s) => s.codec_type === 'audio'), `${c.id}: audio stream`)
    assert.ok(Number(probe.format.duration) >= 2, `${c.id}: duration ${probe.format.duration}`)
  }
})

test('ffmpeg library → s3rver: byte-identical with Content-Type, ffprobe opens the masters over S3 HTTP', { timeout: 120_000 }, async () => {
  const reportFile = path.join(work, 's3-report.json')
  const r = await runCli(['transfer', ...masters(), '--to', 's3://media/copy', '--s3-endpoint', s3.url, '--state', path.join(work, 'state-s3'), '--report', reportFile],
    { cwd: work, env: S3_ENV })
  assert.equal(r.code, 0, r.stderr + r.stdout)
  const client = s3Client(s3.url)
  try {
    const keys = (await listS3(client, 'media', 'copy/')).map((o) => o.key).sort()
    assert.deepEqual(keys, lib.files.map((f) => `copy/hls/${f}`))
    for (const f of lib.files) {
      const got = await getS3(client, 'media', `copy/hls/${f}`)
      assert.ok(got.body.equals(await readFile(path.join(lib.root, f))), f)
      const want = f.endsWith('.m3u8') ? /mpegurl/i : f.endsWith('.ts') ? /video\/mp2t/ : f.endsWith('.m4s') || f.endsWith('.mp4') ? /video\/mp4|iso\.segment/ : /./
      assert.match(got.contentType ?? '', want, `${f} content-type`)
    }
  } finally { client.destroy() }
  assert.equal((await readReport(reportFile)).ok, true)
  for (const c of lib.classes) {
    const probe = await probeHls(`${s3.url}/media/copy/hls/${c.master}`)
    assert.ok(probe.streams.some((s) => s.codec_type === 'video'), `${c.id} over S3`)
  }
})
