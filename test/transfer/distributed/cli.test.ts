// The commands as a user runs them: a worker process with /metrics, submit+follow (exit 0 / 1), status, resume.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { readFile, rm, unlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, makeTempDir, startNginx, startRedis, stopProcess, waitFor, type Service } from '../../../support/services.ts'
import type { RunReport } from '../../../src/transfer/core/types.ts'
import { compareTrees, writeLibrary, type LibraryFile } from './fixtures.ts'

const BIN = fileURLToPath(new URL('../../../bin/colony.js', import.meta.url))
let work: string
let nginx: Service
let redisSvc: Service
let files: LibraryFile[]
let catalog: string

function colony(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, COLONY_LOG_LEVEL: 'warn' }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr })
    })
  })
}

before(async () => {
  work = await makeTempDir('colony-dist-cli-')
  const lib = await writeLibrary(path.join(work, 'origin'), { classes: 3, variants: 2, segments: 10 })
  files = lib.files
  nginx = await startNginx({ root: path.join(work, 'origin') })
  redisSvc = await startRedis()
  catalog = path.join(work, 'catalog.json')
  await writeFile(catalog, JSON.stringify(lib.catalog.map((c) => ({ id: c.id, master: `${nginx.url}${c.path}` }))))
})
after(async () => {
  await nginx?.stop()
  await redisSvc?.stop()
  await rm(work, { recursive: true, force: true })
})

test('worker + submit + status from the CLI; a missing segment exits 1 and is named', { timeout: 180_000 }, async () => {
  const prefix = `cli${Date.now()}`
  const metricsPort = await freePort()
  const worker = spawn(process.execPath, [BIN, 'transfer', 'worker', '--redis', redisSvc.url, '--prefix', prefix, '--metrics', `127.0.0.1:${metricsPort}`, '--concurrency', '16'], { stdio: 'ignore', env: { ...process.env, COLONY_LOG_LEVEL: 'warn' } })
  try {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).ok, { timeoutMs: 60_000, message: 'worker /healthz' })
    const dest = path.join(work, 'dest')
    const reportFile = path.join(work, 'report.json')
    const first = await colony(['transfer', catalog, '--to', dest, '--redis', redisSvc.url, '--prefix', prefix, '--report', reportFile, '--pipelining', '8'])
    assert.equal(first.code, 0, first.stderr)
    assert.match(first.stdout, /^OK/m)
    const report = JSON.parse(await readFile(reportFile, 'utf8')) as RunReport
    assert.equal(report.totals.verified, files.length)
    assert.deepEqual(await compareTrees(path.join(work, 'origin'), dest, files), [])

    const again = await colony(['transfer', catalog, '--to', dest, '--redis', redisSvc.url, '--prefix', prefix, '--json'])
    assert.equal(again.code, 0)
    assert.match(again.stderr, /resuming run/)
    assert.ok(again.stdout.split('\n').some((l) => l.includes('"type":"report"')))

    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
    const copied = Number(/colony_transfer_files_total\{result="copied"\} (\d+)/.exec(metrics)?.[1] ?? 0)
    assert.equal(copied, files.length)
    assert.match(metrics, /colony_transfer_queue_depth\{queue="copy",kind="length"\} 0/)
    assert.match(metrics, /colony_transfer_jobs_total\{role="crawler",outcome="crawled"\} 3/)

    await unlink(path.join(work, 'origin', 'lib', 'class001', 'v1', 'seg0004.ts'))
    const broken = await colony(['transfer', catalog, '--to', path.join(work, 'dest2'), '--redis', redisSvc.url, '--prefix', prefix, '--run', 'broken', '--retries', '1', '--json'])
    assert.equal(broken.code, 1)
    const last = JSON.parse(broken.stdout.trim().split('\n').pop() ?? '{}') as { report: RunReport }
    assert.equal(last.report.ok, false)
    const missing = last.report.classes.flatMap((c) => c.missing)
    assert.deepEqual(missing.map((m) => m.key), ['lib/class001/v1/seg0004.ts'])

    const status = await colony(['transfer', 'status', '--redis', redisSvc.url, '--prefix', prefix, '--run', 'broken', '--json'])
    assert.equal(status.code, 1)
    const s = JSON.parse(status.stdout) as { state: string; classes: Array<{ id: string; state: string; failed: number }> }
    assert.equal(s.state, 'finished')
    assert.deepEqual(s.classes.filter((c) => c.failed > 0).map((c) => [c.id, c.state]), [['class001', 'incomplete']])
    const list = await colony(['transfer', 'status', '--redis', redisSvc.url, '--prefix', prefix])
    assert.match(list.stdout, /finished\s+broken/)
  } finally {
    await stopProcess(worker)
  }
})
