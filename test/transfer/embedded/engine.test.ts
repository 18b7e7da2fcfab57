// Engine integration: a real HTTP origin (node:http), real directories, real s3rver, the real CLI.
import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { rmSync, writeFileSync } from 'node:fs'
import { readFile, rm, readdir, writeFile } from 'node:fs/promises'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { makeTempDir, startS3rver } from '../../../support/services.ts'
import { buildLibrary, startFixtureOrigin, type FixtureOrigin } from '../fixtures/origin-fixture.ts'
import { runTransfer, journalPath, type TransferOptions } from '../../../src/transfer/embedded/engine.ts'
import { Journal } from '../../../src/transfer/embedded/journal.ts'
import { TRANSFER_CODES } from '../../../src/transfer/errors.ts'
import { type RunReport } from '../../../src/transfer/core/types.ts'
import { type TransferEvents } from '../../../src/transfer/core/events.ts'

let origin: FixtureOrigin
let tmp: string

before(async () => {
  origin = await startFixtureOrigin(buildLibrary(3, 12))
  tmp = await makeTempDir('colony-transfer-engine-')
})
after(async () => {
  await origin.stop()
  await rm(tmp, { recursive: true, force: true })
})

const masters = (n = 3): string[] => Array.from({ length: n }, (_, i) => `${origin.url}/lib/c${i}/master.m3u8`)
const expectedFiles = (): number => origin.files.size

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort()
}

function collect(events: EventEmitter<TransferEvents>): { copied: string[]; retries: Array<{ key: string; code: string }> } {
  const out = { copied: [] as string[], retries: [] as Array<{ key: string; code: string }> }
  events.on('copied', (e) => out.copied.push(e.key))
  events.on('retry', (e) => out.retries.push({ key: e.key, code: e.code }))
  return out
}

test('http → directory on worker threads: every file byte-identical and verified, transient 503s retried', { timeout: 60_000 }, async () => {
  const to = path.join(tmp, 'dir1')
  origin.failNext.set('/lib/c1/ts/s3.ts', 2)
  origin.failNext.set('/lib/c2/fmp4/init.mp4', 1)
  const events = new EventEmitter<TransferEvents>()
  const seen = collect(events)
  const report = await runTransfer({ sources: masters(), to, stateDir: path.join(tmp, 'state1'), workers: 2, concurrency: 16, retryBaseMs: 5, events })
  assert.equal(report.ok, true, JSON.stringify(report.classes.map((c) => c.missing)))
  assert.equal(report.totals.files, expectedFiles())
  assert.equal(report.totals.verified, expectedFiles())
  assert.equal(report.totals.retries, 3)
  assert.deepEqual(seen.retries.map((r) => r.code).sort(), [TRANSFER_CODES.HTTP_THROTTLED, TRANSFER_CODES.HTTP_THROTTLED, TRANSFER_CODES.HTTP_THROTTLED])
  const copied = await listFiles(to)
  assert.deepEqual(copied, [...origin.files.keys()].map((k) => k.slice(1)).sort())
  for (const [p, f] of origin.files) assert.ok((await readFile(path.join(to, p))).equals(f.body), `${p} differs`)
})

test('pipelined GETs (--pipelining 8) on the main thread and on workers: every file verified, 503s retried', { timeout: 60_000 }, async () => {
  for (const workers of [0, 2]) {
    const to = path.join(tmp, `dir-pipe-${workers}`)
    origin.failNext.set('/lib/c0/ts/s5.ts', 1)
    const report = await runTransfer({ sources: masters(), to, stateDir: path.join(tmp, `state-pipe-${workers}`), workers, pipelining: 8, concurrency: 32, retryBaseMs: 5 })
    assert.equal(report.ok, true, JSON.stringify(report.classes.map((c) => c.missing)))
    assert.equal(report.totals.verified, expectedFiles())
    assert.equal(report.totals.retries, 1)
    for (const [p, f] of origin.files) assert.ok((await readFile(path.join(to, p))).equals(f.body), `${p} differs (workers ${workers})`)
  }
})

test('verification at the end: a file removed or changed at the destination after its copy is reported, the rest verified', { timeout: 60_000 }, async () => {
  const to = path.join(tmp, 'dir-verify')
  const events = new EventEmitter<TransferEvents>()
  // 'phase' is emitted synchronously just before verification reads the destination.
  events.on('phase', (e) => {
    if (e.phase !== 'verify') return
    rmSync(path.join(to, 'lib/c0/ts/s1.ts'))
    writeFileSync(path.join(to, 'lib/c0/ts/s2.ts'), 'short')
  })
  const report = await runTransfer({ sources: masters(1), to, stateDir: path.join(tmp, 'state-verify'), workers: 0, concurrency: 8, events })
  assert.equal(report.ok, false)
  const missing = report.classes.flatMap((c) => c.missing).map((m) => [m.key, m.code]).sort()
  assert.deepEqual(missing, [['lib/c0/ts/s1.ts', TRANSFER_CODES.VERIFY_MISSING], ['lib/c0/ts/s2.ts', TRANSFER_CODES.VERIFY_MISMATCH]])
  assert.equal(report.totals.verified, [...origin.files.keys()].filter((k) => k.startsWith('/lib/c0/')).length - 2)
})

test('retries go to the FRONT of the queue, not behind newer work', { timeout: 60_000 }, async () => {
  origin.log.length = 0
  origin.delayMs = 5
  origin.failNext.set('/lib/c0/ts/s0.ts', 1)
  try {
    const report = await runTransfer({ sources: masters(1), to: path.join(tmp, 'front'), stateDir: path.join(tmp, 'state-front'), workers: 0, concurrency: 1, retryBaseMs: 1, retryMaxMs: 1 })
    assert.equal(report.ok, true)
  } finally { origin.delayMs = 0 }
  const gets = origin.log.filter((l) => l.startsWith('GET '))
  const attempts = gets.map((l, i) => [l, i] as const).filter(([l]) => l === 'GET /lib/c0/ts/s0.ts').map(([, i]) => i)
  assert.equal(attempts.length, 2)
  const [firstTry, secondTry] = attempts as [number, number]
  // With one copy in flight the retry is taken as soon as its ~1 ms backoff ends: a couple of requests
  // later, while at the tail it would have waited for the 20-odd files queued behind it.
  const segmentGets = gets.filter((l) => /\/(s\d+\.(ts|m4s)|init\.mp4|k\.key)$/.test(l)).length
  assert.ok(secondTry - firstTry <= 3, `retry came ${secondTry - firstTry} requests later`)
  assert.ok(segmentGets > 20)
})

test('resume after an interrupted run: nothing already copied is fetched again', { timeout: 60_000 }, async () => {
  const opts: TransferOptions = { sources: masters(), to: path.join(tmp, 'resume'), stateDir: path.join(tmp, 'state-resume'), workers: 0, concurrency: 4 }
  const controller = new AbortController()
  const events = new EventEmitter<TransferEvents>()
  const first = collect(events)
  events.on('copied', () => { if (first.copied.length === 20) controller.abort() })
  await assert.rejects(runTransfer({ ...opts, events, signal: controller.signal }), { code: TRANSFER_CODES.ABORTED })
  const journal = new Journal(journalPath(opts).file)
  const done = new Set([...first.copied])
  const counts = journal.counts()
  journal.close()
  assert.ok((counts.copied ?? 0) >= 20, JSON.stringify(counts))

  origin.log.length = 0
  const events2 = new EventEmitter<TransferEvents>()
  const second = collect(events2)
  const report = await runTransfer({ ...opts, events: events2 })
  assert.equal(report.ok, true)
  assert.equal(report.totals.verified, expectedFiles())
  const refetched = origin.log.filter((l) => l.startsWith('GET ') && done.has(l.slice(5).slice(1)) && !l.endsWith('.m3u8'))
  assert.deepEqual(refetched, [])
  assert.equal(second.copied.filter((k) => done.has(k)).length, 0)
  // A third run has nothing left to do: no GET at all.
  origin.log.length = 0
  const again = await runTransfer(opts)
  assert.equal(again.ok, true)
  assert.deepEqual(origin.log.filter((l) => l.startsWith('GET ') && !l.endsWith('.m3u8')), [])
})

test('backpressure: a tiny queue bound still completes every class (crawling pauses, copying drains it)', { timeout: 60_000 }, async () => {
  const report = await runTransfer({ sources: masters(), to: path.join(tmp, 'bp'), stateDir: path.join(tmp, 'state-bp'), workers: 0, concurrency: 4, maxQueued: 5 })
  assert.equal(report.ok, true)
  assert.equal(report.totals.verified, expectedFiles())
})

test('truncated bodies (small and multi-MB, to a directory and to S3) are retried and never committed half-written', { timeout: 90_000 }, async () => {
  const big = Buffer.alloc(6 * 1024 * 1024)
  for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i, i)
  origin.files.set('/lib/c0/ts/big.ts', { type: 'video/mp2t', body: big })
  origin.files.set('/lib/c0/big.m3u8', { type: 'application/vnd.apple.mpegurl', body: Buffer.from('#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nts/big.ts\n#EXTINF:4,\nts/s1.ts\n#EXT-X-ENDLIST\n') })
  const s3 = await startS3rver(['trunc'])
  try {
    for (const to of [path.join(tmp, 'trunc'), 's3://trunc/x']) {
      origin.truncateNext.set('/lib/c0/ts/big.ts', 2)
      origin.truncateNext.set('/lib/c0/ts/s1.ts', 1)
      const events = new EventEmitter<TransferEvents>()
      const seen = collect(events)
      const report = await runTransfer({ sources: [`${origin.url}/lib/c0/big.m3u8`], to, stateDir: path.join(tmp, `state-trunc-${seen.copied.length}-${to.length}`), workers: 0, retryBaseMs: 1, events,
        s3: { endpoint: s3.url, credentials: s3.credentials } })
      assert.equal(report.ok, true, JSON.stringify(report.classes.map((c) => c.missing)))
      assert.equal(seen.retries.length, 3, JSON.stringify(seen.retries))
      assert.ok(seen.retries.every((r) => r.code === TRANSFER_CODES.TRUNCATED || r.code === TRANSFER_CODES.CONNECTION), JSON.stringify(seen.retries))
    }
    assert.ok((await readFile(path.join(tmp, 'trunc/lib/c0/ts/big.ts'))).equals(big))
    assert.deepEqual((await listFiles(path.join(tmp, 'trunc'))).filter((f) => f.includes('colony-tmp')), [])
  } finally {
    origin.files.delete('/lib/c0/ts/big.ts')
    origin.files.delete('/lib/c0/big.m3u8')
    origin.truncateNext.clear()
    await s3.stop()
  }
})

test('dry run lists every file and writes nothing', { timeout: 30_000 }, async () => {
  const to = path.join(tmp, 'dry')
  const events = new EventEmitter<TransferEvents>()
  const planned: string[] = []
  events.on('planned', (e) => planned.push(e.key))
  const report = await runTransfer({ sources: masters(), to, stateDir: path.join(tmp, 'state-dry'), dryRun: true, events })
  assert.equal(report.ok, true)
  assert.equal(report.dryRun, true)
  assert.equal(planned.length, expectedFiles())
  await assert.rejects(readdir(to), { code: 'ENOENT' })
  await assert.rejects(readdir(path.join(tmp, 'state-dry')), { code: 'ENOENT' })
})

function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.resolve('bin/colony.js'), 'transfer', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString() })
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
    child.on('exit', (code) => resolve({ code, stdout, stderr }))
  })
}

test('CLI: a missing segment and a hostile class → exit 1, the report names them, the good classes are verified', { timeout: 60_000 }, async () => {
  origin.missing.add('/lib/c1/fmp4/s5.m4s')
  origin.files.set('/lib/evil/master.m3u8', { type: 'application/vnd.apple.mpegurl', body: Buffer.from('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n../c0/ts/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=1\nhttp://evil.test/x.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=1\nmaster.m3u8\n') })
  const catalog = path.join(tmp, 'catalog.ndjson')
  await writeFile(catalog, [
    ...masters().map((m, i) => JSON.stringify({ id: `c${i}`, master: m, status: 'ready' })),
    JSON.stringify({ id: 'evil', master: `${origin.url}/lib/evil/master.m3u8` }),
    JSON.stringify({ id: 'old', master: `${origin.url}/lib/old/master.m3u8`, status: 'aborted' }),
    JSON.stringify({ id: 'gone', master: `${origin.url}/lib/gone/master.m3u8` }),
  ].join('\n'))
  const reportFile = path.join(tmp, 'report.json')
  try {
    const r = await runCli(['--catalog', catalog, '--to', path.join(tmp, 'cli'), '--report', reportFile, '--retries', '1'], { COLONY_STATE: path.join(tmp, 'state-cli') })
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stdout, /INCOMPLETE/)
    const report = JSON.parse(await readFile(reportFile, 'utf8')) as RunReport
    const byId = Object.fromEntries(report.classes.map((c) => [c.id, c]))
    assert.equal(byId.c0?.state, 'verified')
    assert.equal(byId.c2?.state, 'verified')
    assert.equal(byId.c1?.state, 'incomplete')
    assert.deepEqual(byId.c1?.missing.map((m) => [m.key, m.code]), [['lib/c1/fmp4/s5.m4s', TRANSFER_CODES.NOT_FOUND]])
    assert.deepEqual(byId.evil?.missing.map((m) => m.code).sort(), [TRANSFER_CODES.FORBIDDEN_HOST, TRANSFER_CODES.PATH_ESCAPE, TRANSFER_CODES.PLAYLIST_LOOP].sort())
    assert.equal(byId.old?.skipReason, 'aborted')
    assert.equal(byId.gone?.skipReason, 'playlist-missing')
    await assert.rejects(readFile(path.join(tmp, 'cli/lib/c1/fmp4/s5.m4s')), { code: 'ENOENT' })
  } finally {
    origin.missing.clear()
    origin.files.delete('/lib/evil/master.m3u8')
  }
})

test('CLI: usage errors exit 2; --help exits 0; --json prints NDJSON ending with the report', { timeout: 60_000 }, async () => {
  assert.equal((await runCli([masters(1)[0] as string])).code, 2)
  assert.equal((await runCli(['--to', path.join(tmp, 'x')])).code, 2)
  assert.equal((await runCli([masters(1)[0] as string, '--to', path.join(tmp, 'x'), '--concurrency', 'lots'])).code, 2)
  assert.equal((await runCli([masters(1)[0] as string, '--to', path.join(tmp, 'x'), '--frobnicate'])).code, 2)
  assert.equal((await runCli(['ftp://x/y', '--to', path.join(tmp, 'x')])).code, 2)
  const help = await runCli(['--help'])
  assert.equal(help.code, 0)
  assert.match(help.stdout, /--allow-host/)
  const json = await runCli([masters(1)[0] as string, '--to', path.join(tmp, 'json'), '--json', '--state', path.join(tmp, 'state-json')])
  assert.equal(json.code, 0, json.stderr)
  const lines = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; report?: { ok: boolean } })
  assert.ok(lines.some((l) => l.type === 'copied'))
  assert.equal(lines.at(-1)?.type, 'done')
  assert.equal(lines.at(-1)?.report?.ok, true)
})

test('http → s3rver: objects, Content-Type and MD5 ETags; a fresh run finds them present and copies nothing', { timeout: 90_000 }, async () => {
  const s3 = await startS3rver(['dest'])
  const client = new S3Client({ endpoint: s3.url, region: 'us-east-1', forcePathStyle: true, credentials: s3.credentials })
  try {
    const s3opts = { endpoint: s3.url, credentials: s3.credentials }
    const base: TransferOptions = { sources: masters(2), to: 's3://dest/copy', s3: s3opts, workers: 2, concurrency: 16 }
    const report = await runTransfer({ ...base, stateDir: path.join(tmp, 'state-s3a') })
    assert.equal(report.ok, true, JSON.stringify(report.classes.map((c) => c.missing)))
    const keys = [...origin.files.keys()].filter((k) => /\/lib\/c[01]\//.test(k))
    assert.equal(report.totals.verified, keys.length)
    for (const k of keys) {
      const f = origin.files.get(k)
      const out = await client.send(new GetObjectCommand({ Bucket: 'dest', Key: `copy${k}` }))
      assert.equal(out.ContentType, f?.type, k)
      assert.ok(Buffer.from(await out.Body!.transformToByteArray()).equals(f!.body), `${k} differs`)
    }
    const head = await client.send(new HeadObjectCommand({ Bucket: 'dest', Key: 'copy/lib/c0/ts/s1.ts' }))
    assert.equal(head.ETag?.replace(/"/g, ''), (await import('node:crypto')).createHash('md5').update(origin.files.get('/lib/c0/ts/s1.ts')!.body).digest('hex'))

    origin.log.length = 0
    const again = await runTransfer({ ...base, stateDir: path.join(tmp, 'state-s3b') })
    assert.equal(again.ok, true)
    assert.equal(again.totals.skippedPresent, keys.length)
    assert.deepEqual(origin.log.filter((l) => l.startsWith('GET ') && !l.endsWith('.m3u8')), [])
  } finally {
    client.destroy()
    await s3.stop()
  }
})
