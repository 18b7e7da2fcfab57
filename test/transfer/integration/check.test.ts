// `colony transfer check`: compares an origin with destinations written by other tools (plain fs writes, S3
// PutObject), with no journal anywhere. Exit codes through bin/colony.js.
import assert from 'node:assert/strict'
import { mkdir, readFile, rm, unlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { makeTempDir, startS3rver } from '../../../support/services.ts'
import { buildLibrary, startFixtureOrigin, type FixtureOrigin, type OriginFile } from '../fixtures/origin-fixture.ts'
import { runCli, s3Client, S3_ENV } from './run-cli.ts'
import type { CheckReport } from '../../../src/transfer/core/check/check-report.ts'

let origin: FixtureOrigin
let work: string
let masters: string[]

before(async () => {
  origin = await startFixtureOrigin(buildLibrary(2, 3))
  masters = [`${origin.url}/lib/c0/master.m3u8`, `${origin.url}/lib/c1/master.m3u8`]
  work = await makeTempDir('colony-check-')
})
after(async () => { await origin.stop(); await rm(work, { recursive: true, force: true }) })

/** What `cp -r` of the origin would leave: every file at its path, no journal, no colony metadata. */
async function plainCopy(name: string): Promise<string> {
  const dir = path.join(work, name)
  for (const [p, f] of origin.files) {
    const file = path.join(dir, p)
    await mkdir(path.dirname(file), { recursive: true })
    await writeFile(file, f.body)
  }
  return dir
}

async function check(args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number | null; report: CheckReport; stdout: string; stderr: string }> {
  const file = path.join(work, `report-${Math.random().toString(36).slice(2)}.json`)
  const r = await runCli(['transfer', 'check', ...args, '--report', file], { cwd: work, ...(env ? { env } : {}), timeoutMs: 30_000 })
  const report = JSON.parse(await readFile(file, 'utf8').catch(() => 'null')) as CheckReport
  return { code: r.code, report, stdout: r.stdout, stderr: r.stderr }
}

const items = (report: CheckReport, type: string): string[] => report.classes.flatMap((c) => c.items.filter((i) => i.type === type).map((i) => i.key)).sort()

test('check: a directory written by plain fs copies is identical (exit 0), with no journal', async () => {
  const dir = await plainCopy('same')
  const r = await check([...masters, '--to', dir])
  assert.equal(r.code, 0, r.stderr + r.stdout)
  assert.equal(r.report.identical, true)
  assert.equal(r.report.totals.files, origin.files.size)
  assert.equal(r.report.totals.same, origin.files.size)
  assert.match(r.stdout, /^IDENTICAL/)
  assert.ok(!origin.log.some((l) => l.startsWith('PUT')))
})

test('check: missing, size-differs and extra files are listed per class (exit 1)', async () => {
  const dir = await plainCopy('broken')
  await unlink(path.join(dir, 'lib/c0/ts/s1.ts'))
  await writeFile(path.join(dir, 'lib/c1/fmp4/s0.m4s'), 'short')
  await writeFile(path.join(dir, 'lib/c0/ts/old.ts'), 'left over')
  await mkdir(path.join(dir, 'other'), { recursive: true })
  await writeFile(path.join(dir, 'other/unrelated.ts'), 'not under any class prefix')
  const r = await check([...masters, '--to', dir])
  assert.equal(r.code, 1, r.stderr + r.stdout)
  assert.equal(r.report.identical, false)
  assert.deepEqual(items(r.report, 'missing'), ['lib/c0/ts/s1.ts'])
  assert.deepEqual(items(r.report, 'differs'), ['lib/c1/fmp4/s0.m4s'])
  assert.deepEqual(items(r.report, 'extra'), ['lib/c0/ts/old.ts'])
  const c1 = r.report.classes.find((c) => c.id === 'lib/c1/master.m3u8')
  assert.equal(c1?.items[0]?.reason, 'size')
  assert.equal(c1?.prefix, 'lib/c1/')
  assert.equal(r.report.totals.same, origin.files.size - 2)
  assert.match(r.stdout, /^DIFFERS/)
  assert.match(r.stdout, /missing +lib\/c0\/ts\/s1\.ts/)
})

test('check: same size, other bytes differ only with --checksum on a directory; --json streams findings', async () => {
  const dir = await plainCopy('flipped')
  const file = path.join(dir, 'lib/c0/fmp4/init.mp4')
  const body = await readFile(file)
  body[10] = (body[10] ?? 0) ^ 0xff
  await writeFile(file, body)
  const plain = await check([...masters, '--to', dir])
  assert.equal(plain.code, 0, 'sizes alone cannot see it')
  const summed = await check([...masters, '--to', dir, '--checksum', '--json'])
  assert.equal(summed.code, 1, summed.stderr)
  assert.deepEqual(items(summed.report, 'differs'), ['lib/c0/fmp4/init.mp4'])
  assert.equal(summed.report.classes[0]?.items[0]?.reason, 'checksum')
  const lines = summed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; key?: string })
  assert.deepEqual(lines.filter((l) => l.type === 'differs').map((l) => l.key), ['lib/c0/fmp4/init.mp4'])
  assert.equal(lines.at(-1)?.type, 'done')
})

test('check: against s3rver written by PutObject — identical, then ETag-differs, missing and extra', async () => {
  const s3 = await startS3rver(['dest'])
  try {
    const client = s3Client(s3.url)
    for (const [p, f] of origin.files) await client.send(new PutObjectCommand({ Bucket: 'dest', Key: `copy${p}`, Body: f.body }))
    const env = { ...S3_ENV }
    const args = [...masters, '--to', 's3://dest/copy', '--s3-endpoint', s3.url]
    const same = await check(args, env)
    assert.equal(same.code, 0, same.stderr + same.stdout)
    assert.equal(same.report.totals.same, origin.files.size)
    const seg = origin.files.get('/lib/c1/ts/s2.ts')?.body as Buffer
    const flipped = Buffer.from(seg)
    flipped[0] = (flipped[0] ?? 0) ^ 0xff
    await client.send(new PutObjectCommand({ Bucket: 'dest', Key: 'copy/lib/c1/ts/s2.ts', Body: flipped }))
    await client.send(new DeleteObjectCommand({ Bucket: 'dest', Key: 'copy/lib/c0/keys/k.key' }))
    await client.send(new PutObjectCommand({ Bucket: 'dest', Key: 'copy/lib/c1/extra.txt', Body: 'x' }))
    const r = await check(args, env)
    assert.equal(r.code, 1, r.stderr + r.stdout)
    assert.deepEqual(items(r.report, 'differs'), ['lib/c1/ts/s2.ts'])
    assert.equal(r.report.classes.find((c) => c.id === 'lib/c1/master.m3u8')?.items.find((i) => i.type === 'differs')?.reason, 'checksum')
    assert.deepEqual(items(r.report, 'missing'), ['lib/c0/keys/k.key'])
    assert.deepEqual(items(r.report, 'extra'), ['lib/c1/extra.txt'])
    const sizes = await check([...args, '--no-checksum'], env)
    assert.deepEqual(items(sizes.report, 'differs'), [], '--no-checksum compares sizes only')
    assert.deepEqual(items(sizes.report, 'missing'), ['lib/c0/keys/k.key'])
  } finally {
    await s3.stop()
  }
})

test('check: usage errors exit 2 before anything runs', async () => {
  const before = origin.log.length
  for (const args of [[masters[0] as string], ['--to', work], [masters[0] as string, '--to', work, '--rewrite-uri', 'nonsense']]) {
    const r = await runCli(['transfer', 'check', ...args], { cwd: work, timeoutMs: 20_000 })
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
  }
  assert.equal(origin.log.length, before)
  const help = await runCli(['transfer', 'check', '--help'], { cwd: work })
  assert.equal(help.code, 0)
  assert.match(help.stdout, /--checksum/)
  assert.match(help.stdout, /--rewrite-uri/)
})

test('check: classes sharing a prefix are compared together; a nested class owns its own prefix', async () => {
  const m3u8 = 'application/vnd.apple.mpegurl'
  const media = (seg: string): OriginFile => ({ type: m3u8, body: Buffer.from(`#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n${seg}\n#EXT-X-ENDLIST\n`) })
  const seg = (s: string): OriginFile => ({ type: 'video/mp2t', body: Buffer.from(s) })
  const nested = await startFixtureOrigin(new Map([
    ['/n/a/index.m3u8', media('s0.ts')], ['/n/a/s0.ts', seg('a0')],
    ['/n/a/other.m3u8', media('o0.ts')], ['/n/a/o0.ts', seg('o0')],
    ['/n/a/b/index.m3u8', media('s0.ts')], ['/n/a/b/s0.ts', seg('b0')],
  ]))
  try {
    const dir = path.join(work, 'nested')
    for (const [p, f] of nested.files) { await mkdir(path.dirname(path.join(dir, p)), { recursive: true }); await writeFile(path.join(dir, p), f.body) }
    await writeFile(path.join(dir, 'n/a/junk.ts'), 'x')
    await writeFile(path.join(dir, 'n/a/b/junk.ts'), 'y')
    const r = await check([`${nested.url}/n/a/index.m3u8`, `${nested.url}/n/a/other.m3u8`, `${nested.url}/n/a/b/index.m3u8`, '--to', dir])
    assert.equal(r.code, 1, r.stderr + r.stdout)
    const extras = Object.fromEntries(r.report.classes.map((c) => [c.id, c.items.filter((i) => i.type === 'extra').map((i) => i.key)]))
    assert.deepEqual(extras, { 'n/a/index.m3u8': ['n/a/junk.ts'], 'n/a/other.m3u8': [], 'n/a/b/index.m3u8': ['n/a/b/junk.ts'] })
    assert.equal(r.report.totals.missing + r.report.totals.differs + r.report.totals.errors, 0)
  } finally {
    await nested.stop()
  }
})

test('check: s3:// source against s3:// destination compares listed sizes and ETags', async () => {
  const s3 = await startS3rver(['src', 'dest'])
  try {
    const client = s3Client(s3.url)
    for (const [p, f] of origin.files) {
      await client.send(new PutObjectCommand({ Bucket: 'src', Key: `hls${p}`, Body: f.body }))
      await client.send(new PutObjectCommand({ Bucket: 'dest', Key: `copy/hls${p}`, Body: f.body }))
    }
    const args = ['s3://src/hls/', '--to', 's3://dest/copy', '--s3-endpoint', s3.url]
    const same = await check(args, S3_ENV)
    assert.equal(same.code, 0, same.stderr + same.stdout)
    assert.equal(same.report.classes[0]?.prefix, 'hls/')
    assert.equal(same.report.totals.same, origin.files.size)
    const body = Buffer.from(origin.files.get('/lib/c0/ts/s0.ts')?.body as Buffer)
    body[5] = (body[5] ?? 0) ^ 0xff
    await client.send(new PutObjectCommand({ Bucket: 'dest', Key: 'copy/hls/lib/c0/ts/s0.ts', Body: body }))
    await client.send(new PutObjectCommand({ Bucket: 'dest', Key: 'copy/elsewhere/x.ts', Body: 'outside the class prefix' }))
    const r = await check(args, S3_ENV)
    assert.equal(r.code, 1, r.stderr + r.stdout)
    assert.deepEqual(items(r.report, 'differs'), ['hls/lib/c0/ts/s0.ts'])
    assert.deepEqual(items(r.report, 'extra'), [])
  } finally {
    await s3.stop()
  }
})
