// --rewrite-uri in a distributed run (Redis, a --local-worker, nginx as the origin): playlists are stored
// rewritten, other files byte-identical, every file verified, and `check` with the same rule finds it identical.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, test } from 'node:test'
import { makeTempDir, startNginx, startRedis, type Service } from '../../../support/services.ts'
import { absoluteLibrary } from '../fixtures/absolute-library.ts'
import type { OriginFile } from '../fixtures/origin-fixture.ts'

const BIN = fileURLToPath(new URL('../../../bin/colony.js', import.meta.url))
const NEW = 'https://new-cdn.example.com/media/'
let work: string
let nginx: Service
let redisSvc: Service
let files: Map<string, OriginFile>

function colony(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, COLONY_LOG_LEVEL: 'warn' }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr })
    })
  })
}

before(async () => {
  work = await makeTempDir('colony-dist-rewrite-')
  const root = path.join(work, 'origin')
  await mkdir(root, { recursive: true })
  nginx = await startNginx({ root })
  files = absoluteLibrary(nginx.url)
  for (const [p, f] of files) { await mkdir(path.dirname(path.join(root, p)), { recursive: true }); await writeFile(path.join(root, p), f.body) }
  redisSvc = await startRedis()
})
after(async () => {
  await nginx?.stop()
  await redisSvc?.stop()
  await rm(work, { recursive: true, force: true })
})

test('distributed --rewrite-uri: playlists rewritten, segments byte-identical, verified, counted; check agrees', { timeout: 120_000 }, async () => {
  const dest = path.join(work, 'dest')
  const master = `${nginx.url}/abs/master.m3u8`
  const rule = `${nginx.url}/abs/=${NEW}`
  const reportFile = path.join(work, 'report.json')
  const r = await colony(['transfer', master, '--to', dest, '--redis', redisSvc.url, '--prefix', `rw${Date.now()}`, '--local-worker', '--concurrency', '4', '--rewrite-uri', rule, '--report', reportFile])
  assert.equal(r.code, 0, r.stderr + r.stdout)
  // The same count as the embedded engine's report of this library (test/transfer/integration/rewrite-uri.test.ts).
  const report = JSON.parse(await readFile(reportFile, 'utf8')) as { totals: { rewrittenPlaylists?: number } }
  assert.equal(report.totals.rewrittenPlaylists, 4)
  assert.match(r.stdout + r.stderr, /4 playlists rewritten/)
  for (const [p, f] of files) {
    const stored = await readFile(path.join(dest, p))
    if (p.endsWith('.m3u8')) assert.equal(stored.toString(), f.body.toString().split(`${nginx.url}/abs/`).join(NEW), p)
    else assert.ok(stored.equals(f.body), `${p} byte-identical`)
  }
  const check = await colony(['transfer', 'check', master, '--to', dest, '--rewrite-uri', rule])
  assert.equal(check.code, 0, check.stderr + check.stdout)
  const bad = await colony(['transfer', master, '--to', dest, '--redis', redisSvc.url, '--rewrite-uri', 'https://old/=not-a-url'])
  assert.equal(bad.code, 2, bad.stderr)
})
