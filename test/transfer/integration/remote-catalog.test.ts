// A catalog fetched by URL is remote input: it may name http(s) masters on the hosts the user named (the
// catalog's own host, --allow-host) and nothing else. Real origins on other loopback addresses and ports, a
// real S3 store holding a "private" object and a secret local directory stand ready to answer: none of them
// is read, the good classes are copied, the refused ones are reported with their reason, and the run exits 1.
// The same catalog is then fed to distributed workers over Redis, which refuse the same classes.
import assert from 'node:assert/strict'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { after, before, test } from 'node:test'
import { generateSampleLibrary, startSampleOrigin, type SampleOrigin } from '../../../src/demo/transfer-sample/index.ts'
import type { ClassReport, RunReport } from '../../../src/transfer/core/types.ts'
import { createSilentLogger } from '../../../src/shared/logger.ts'
import { createTransferCore } from '../../../src/transfer/distributed/core-adapter.ts'
import { createKeys } from '../../../src/transfer/distributed/redis/keys.ts'
import { closeRedis, createRedis } from '../../../src/transfer/distributed/redis/client.ts'
import { readRunStatus } from '../../../src/transfer/distributed/status.ts'
import { submitRun } from '../../../src/transfer/distributed/submit.ts'
import { startWorker, WORKER_ROLES } from '../../../src/transfer/distributed/worker.ts'
import { makeTempDir, startRedis, startS3rver, waitFor, type Service } from '../../../support/services.ts'
import { listTree, readReport, runCli, s3Client, S3_ENV } from './run-cli.ts'

const SECRET = 'TOP-SECRET-7f3a: this must never leave the machine'
const good = generateSampleLibrary({ classes: 2, seed: 61, nonTransferable: false, defaults: { segments: 2 } })
const bait = generateSampleLibrary({ classes: 1, seed: 62, nonTransferable: false, defaults: { segments: 2 } })
let work: string
let origin: SampleOrigin
let otherIp: SampleOrigin
let otherPort: SampleOrigin
let s3: Service & { credentials: { accessKeyId: string; secretAccessKey: string } }
let redisSvc: Service
let catalogUrl: string

const REFUSED = ['file-playlist', 'file-dir', 's3-master', 'other-ip', 'other-port', 'redirect']
const baitMaster = (): string => bait.classes[0]?.master ?? ''

before(async () => {
  work = await makeTempDir('colony-it-remote-catalog-')
  // A secret directory: a valid playlist naming the secret file, so a crawl of it would copy both.
  const secretDir = path.join(work, 'secret')
  await mkdir(secretDir)
  await writeFile(path.join(secretDir, 'secret.key'), SECRET)
  await writeFile(path.join(secretDir, 'master.m3u8'), '#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-KEY:METHOD=AES-128,URI="secret.key"\n#EXTINF:4,\nsecret.key\n#EXT-X-ENDLIST\n')
  s3 = await startS3rver(['private'])
  const client = s3Client(s3.url)
  await client.send(new PutObjectCommand({ Bucket: 'private', Key: 'hls/master.m3u8', Body: '#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nsecret.ts\n#EXT-X-ENDLIST\n' }))
  await client.send(new PutObjectCommand({ Bucket: 'private', Key: 'hls/secret.ts', Body: SECRET }))
  client.destroy()
  // Origins nobody named: another loopback address, and another port on the catalog's own address.
  otherIp = await startSampleOrigin({ library: bait, host: '127.0.0.2' })
  otherPort = await startSampleOrigin({ library: bait })
  const entries = [
    { id: 'good-absolute', master: `ORIGIN/${good.classes[0]?.master ?? ''}`, status: 'ready' },
    { id: 'good-relative', master: `../${good.classes[1]?.master ?? ''}`, status: 'ready' },
    { id: 'file-playlist', master: pathToFileURL(path.join(secretDir, 'master.m3u8')).href, status: 'ready' },
    { id: 'file-dir', master: `${pathToFileURL(secretDir).href}/`, status: 'ready' },
    { id: 's3-master', master: 's3://private/hls/master.m3u8', status: 'ready' },
    { id: 'other-ip', master: `${otherIp.url}/${baitMaster()}`, status: 'ready' },
    { id: 'other-port', master: `${otherPort.url}/${baitMaster()}`, status: 'ready' },
    // On the catalog's host, but its master answers with a redirect to a host nobody named.
    { id: 'redirect', master: 'ORIGIN/moved/master.m3u8', status: 'ready' },
  ]
  origin = await startSampleOrigin({ library: good, redirects: { 'moved/master.m3u8': `${otherPort.url}/${baitMaster()}`, 'catalogs/moved.json': `${otherPort.url}/catalog.json` } })
  good.addFile('catalogs/hostile.json', JSON.stringify(entries).replaceAll('ORIGIN', origin.url), { contentType: 'application/json' })
  catalogUrl = `${origin.url}/catalogs/hostile.json`
  redisSvc = await startRedis()
})
after(async () => {
  await Promise.all([origin?.stop(), otherIp?.stop(), otherPort?.stop(), s3?.stop(), redisSvc?.stop()])
  await rm(work, { recursive: true, force: true })
})

/** Every byte under `dir`, to look for the secret in whatever was written. */
async function treeText(dir: string): Promise<string> {
  const files = await listTree(dir)
  return (await Promise.all(files.map((f) => readFile(path.join(dir, f), 'utf8')))).join('\n')
}

function assertRefused(report: RunReport): void {
  const byId = new Map<string, ClassReport & { skipMessage?: string }>(report.classes.map((c) => [c.id, c]))
  for (const id of ['good-absolute', 'good-relative']) assert.equal(byId.get(id)?.state, 'verified', `${id}: ${JSON.stringify(byId.get(id))}`)
  for (const id of REFUSED) {
    const c = byId.get(id)
    assert.ok(c, `${id} is in the report`)
    assert.equal(c.state === 'skipped' ? c.skipReason : c.state, c.state === 'skipped' ? 'forbidden-host' : 'failed', `${id} refused: ${JSON.stringify(c)}`)
    const why = [c.skipMessage ?? '', ...c.missing.map((m) => `${m.code} ${m.message}`)].join(' | ')
    assert.match(why, id.startsWith('file') || id.startsWith('s3') ? /only name http\(s\)/ : /not allowed|neither the catalog's host/, `${id} says why: ${why}`)
  }
  assert.equal(report.ok, false)
  assert.equal(otherIp.stats.requests, 0, 'the other loopback address received no request')
  assert.equal(otherPort.stats.requests, 0, 'the other port received no request')
}

test('a remote catalog naming file://, s3:// and foreign-host masters: good classes copied, the rest refused with reasons, exit 1', { timeout: 90_000 }, async () => {
  const dest = path.join(work, 'dest')
  const reportFile = path.join(work, 'report.json')
  const r = await runCli(['transfer', catalogUrl, '--to', dest, '--state', path.join(work, 'state'), '--report', reportFile, '--workers', '1', '--s3-endpoint', s3.url],
    { cwd: work, env: S3_ENV, timeoutMs: 80_000 })
  assert.equal(r.code, 1, `exit 1: ${r.stderr}\n${r.stdout}`)
  const report = await readReport(reportFile)
  assertRefused(report)
  for (const c of good.classes) for (const p of c.files) assert.ok((await readFile(path.join(dest, p))).equals(good.read(p)), p)
  const written = await listTree(dest)
  assert.deepEqual(written, good.classes.flatMap((c) => c.files).sort(), 'exactly the good classes are in the destination')
  assert.ok(!(await treeText(dest)).includes('TOP-SECRET'), 'nothing of the secret file or the private object in the destination')
  assert.match(r.stdout, /skipped file-dir \(forbidden-host\)/)

  // The user names the other address: its class is then copied.
  const allowed = await runCli(['transfer', catalogUrl, '--to', path.join(work, 'dest-allowed'), '--state', path.join(work, 'state'), '--workers', '1',
    '--allow-host', new URL(otherIp.url).host, '--report', path.join(work, 'report-allowed.json')], { cwd: work, env: S3_ENV, timeoutMs: 80_000 })
  assert.equal(allowed.code, 1, allowed.stderr)
  const again = await readReport(path.join(work, 'report-allowed.json'))
  assert.equal(again.classes.find((c) => c.id === 'other-ip')?.state, 'verified')
  assert.equal(again.classes.find((c) => c.id === 'other-port')?.skipReason, 'forbidden-host')
  otherIp.resetStats()
})

test('a catalog URL redirecting to a host nobody named is refused (exit 2) and nothing is read from that host', { timeout: 60_000 }, async () => {
  const dest = path.join(work, 'dest-moved')
  const r = await runCli(['transfer', `${origin.url}/catalogs/moved.json`, '--to', dest, '--state', path.join(work, 'state'), '--workers', '1'], { cwd: work, timeoutMs: 50_000 })
  assert.equal(r.code, 2, `${r.stderr}\n${r.stdout}`)
  assert.match(r.stderr, /TRANSFER_BAD_CATALOG|cannot read catalog/)
  assert.match(r.stderr, /not allowed/)
  assert.equal(otherPort.stats.requests, 0, 'the redirect target received no request')
  assert.deepEqual(await listTree(dest), [])
})

test('distributed workers fed the same remote catalog refuse the same classes', { timeout: 90_000 }, async () => {
  const prefix = `remote${Date.now()}`
  const keys = createKeys(prefix)
  const redis = createRedis(redisSvc.url)
  const dest = path.join(work, 'dest-dist')
  const worker = await startWorker({
    redisUrl: redisSvc.url, prefix, roles: [...WORKER_ROLES], concurrency: 8, log: createSilentLogger(), claimIdleMs: 2000,
    createCore: (c) => Promise.resolve(createTransferCore(c, { s3Credentials: s3.credentials })),
  })
  try {
    const { run } = await submitRun(redis, keys, { sources: [catalogUrl], to: dest, retries: 1, core: { s3: { endpoint: s3.url, region: 'us-east-1', forcePathStyle: true } } })
    const status = await waitFor(async () => { const s = await readRunStatus(redis, keys, run); return s.report ? s : undefined }, { timeoutMs: 60_000, intervalMs: 200, message: 'the run finished' })
    assertRefused(status.report as RunReport)
    assert.ok(!(await treeText(dest)).includes('TOP-SECRET'), 'nothing of the secret file or the private object in the destination')
    assert.deepEqual(await listTree(dest), good.classes.flatMap((c) => c.files).sort())
  } finally {
    await worker.stop()
    await closeRedis(redis)
  }
})
