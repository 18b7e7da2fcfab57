// The Lambda executor: colony's handler called directly, a whole run whose copier batches go through
// Lambda's Invoke API (a local endpoint around the same handler), and the packaged zip run on its own.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { LambdaClient } from '@aws-sdk/client-lambda'
import { makeTempDir, startNginx, startRedis, waitFor, type Service } from '../../../support/services.ts'
import { createSilentLogger } from '../../../src/shared/logger.ts'
import type { FileRef } from '../../../src/transfer/core/types.ts'
import { createTransferCore } from '../../../src/transfer/distributed/core-adapter.ts'
import { handler } from '../../../src/transfer/distributed/lambda/handler.ts'
import { startLocalLambda } from '../../../src/transfer/distributed/lambda/local-server.ts'
import { buildLambdaPackage } from '../../../src/transfer/distributed/lambda/package.ts'
import { createKeys, type Keys } from '../../../src/transfer/distributed/redis/keys.ts'
import { closeRedis, createRedis } from '../../../src/transfer/distributed/redis/client.ts'
import type { ScriptedRedis } from '../../../src/transfer/distributed/redis/scripts.ts'
import { submitRun } from '../../../src/transfer/distributed/submit.ts'
import { readRunStatus } from '../../../src/transfer/distributed/status.ts'
import { startWorker, WORKER_ROLES } from '../../../src/transfer/distributed/worker.ts'
import { compareTrees, writeLibrary, type LibraryFile } from './fixtures.ts'
import type { LambdaBatchEvent } from '../../../src/transfer/wire-format.ts'

const run = promisify(execFile)
let work: string
let nginx: Service
let files: LibraryFile[]

before(async () => {
  work = await makeTempDir('colony-dist-lambda-')
  files = (await writeLibrary(path.join(work, 'origin'), { classes: 3, variants: 2, segments: 20 })).files
  nginx = await startNginx({ root: path.join(work, 'origin') })
})
after(async () => {
  await nginx?.stop()
  await rm(work, { recursive: true, force: true })
})

function eventFor(dest: string, refs: FileRef[]): LambdaBatchEvent {
  return {
    kind: 'colony-transfer-batch', classId: 'class000', attempt: 0, concurrency: 4,
    config: { run: 'lambda-direct', sources: [`${nginx.url}/lib/class000/master.m3u8`], to: dest, retries: 3, core: {}, createdAt: new Date().toISOString(), batchSize: 100, executor: 'local' },
    files: refs.map((ref, i) => ({ i, ref })),
  }
}

test('the handler copies a batch and reports one outcome per file, a missing one as not retryable', async () => {
  const dest = path.join(work, 'direct')
  const refs: FileRef[] = files.filter((f) => f.key.startsWith('lib/class000/v0/')).slice(0, 5).map((f) => ({ source: `${nginx.url}/${f.key}`, key: f.key, kind: 'segment' }))
  refs.push({ source: `${nginx.url}/lib/class000/v0/nope.ts`, key: 'lib/class000/v0/nope.ts', kind: 'segment' })
  const res = await handler(eventFor(dest, refs))
  assert.equal(res.results.length, 6)
  const bad = res.results.find((r) => r.i === 5)?.outcome
  assert.ok(bad && !bad.ok)
  assert.equal(bad.retryable, false)
  for (const r of res.results.filter((x) => x.i < 5)) assert.equal(r.outcome.ok, true)
  assert.deepEqual(await compareTrees(path.join(work, 'origin'), dest, files.filter((f) => refs.slice(0, 5).some((r) => r.key === f.key))), [])
  await assert.rejects(handler({ kind: 'nope' } as unknown as LambdaBatchEvent), { code: 'TRANSFER_DIST_BAD_JOB' })
})

/** Redis, the local Invoke API and an all-roles worker whose copier invokes it; `close` stops them all. */
async function lambdaRig(prefix: string, concurrency: number): Promise<{ redis: ScriptedRedis; keys: Keys; invocations: () => number; close: () => Promise<void> }> {
  const redisSvc = await startRedis()
  const lambda = await startLocalLambda({ functions: ['colony-copier'] })
  const keys = createKeys(prefix)
  const redis = createRedis(redisSvc.url)
  const client = new LambdaClient({ endpoint: lambda.url, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 })
  const worker = await startWorker({
    redisUrl: redisSvc.url, prefix, roles: [...WORKER_ROLES], concurrency, log: createSilentLogger(),
    createCore: (c) => Promise.resolve(createTransferCore(c)), lambda: { client },
  })
  return {
    redis, keys, invocations: lambda.invocations,
    close: async () => {
      await worker.stop()
      await closeRedis(redis)
      client.destroy()
      await lambda.close()
      await redisSvc.stop()
    },
  }
}

test('a run with --executor lambda copies every batch through the Invoke API', { timeout: 120_000 }, async () => {
  const { redis, keys, invocations, close } = await lambdaRig(`lambda${Date.now()}`, 8)
  const dest = path.join(work, 'via-lambda')
  try {
    const { run: name } = await submitRun(redis, keys, { sources: [0, 1, 2].map((c) => `${nginx.url}/lib/class00${c}/master.m3u8`), to: dest, executor: 'lambda', lambdaFunction: 'colony-copier', batchSize: 10 })
    const s = await waitFor(async () => { const st = await readRunStatus(redis, keys, name); return st.state === 'finished' ? st : undefined }, { timeoutMs: 100_000, intervalMs: 200, message: 'lambda run finished' })
    assert.equal(s.report?.ok, true)
    assert.equal(s.report?.totals.verified, files.length)
    assert.ok(invocations() >= Math.ceil(files.length / 10), `${invocations()} invocations for ${files.length} files in batches of 10`)
    assert.deepEqual(await compareTrees(path.join(work, 'origin'), dest, files), [])
  } finally {
    await close()
  }
})

test('a batch whose function is missing is retried, then reported failed with the Lambda error', { timeout: 60_000 }, async () => {
  const { redis, keys, close } = await lambdaRig(`lambdafail${Date.now()}`, 4)
  try {
    const { run: name } = await submitRun(redis, keys, { sources: [`${nginx.url}/lib/class001/master.m3u8`], to: path.join(work, 'nofn'), executor: 'lambda', lambdaFunction: 'not-deployed', retries: 1 })
    const s = await waitFor(async () => { const st = await readRunStatus(redis, keys, name); return st.state === 'finished' ? st : undefined }, { timeoutMs: 50_000, intervalMs: 200, message: 'run finished' })
    assert.equal(s.report?.ok, false)
    const c = s.report?.classes[0]
    assert.equal(c?.verified, 0)
    assert.equal(c?.missing.length, c?.files)
    assert.equal(c?.missing[0]?.code, 'TRANSFER_DIST_LAMBDA_INVOKE')
    assert.equal(c?.retries, c?.files, 'every file was retried once (--retries 1) before being reported')
  } finally {
    await close()
  }
})

test('lambda package builds a zip whose handler runs on its own', { timeout: 180_000 }, async () => {
  const zip = path.join(work, 'fn.zip')
  const res = await buildLambdaPackage({ out: zip })
  assert.ok(res.packages.includes('@aws-sdk/client-s3'))
  // The copy path reads HTTP and writes S3 with colony's own HTTP/1.1 client: no undici in the function.
  assert.ok(!res.packages.includes('undici'), res.packages.join(' '))
  await run('unzip', ['-tq', zip])
  const dir = path.join(work, 'fn')
  await run('unzip', ['-q', zip, '-d', dir])
  const dest = path.join(work, 'from-zip')
  const f = files.find((x) => x.key.endsWith('.ts')) as LibraryFile
  const event = eventFor(dest, [{ source: `${nginx.url}/${f.key}`, key: f.key, kind: 'segment' }])
  const script = path.join(work, 'invoke.mjs')
  await writeFile(script, `import { handler } from ${JSON.stringify(path.join(dir, 'index.mjs'))}\nconst out = await handler(JSON.parse(process.argv[2]))\nprocess.stdout.write(JSON.stringify(out))\n`)
  // A clean environment: the function must not find colony's own node_modules.
  const { stdout } = await run(process.execPath, [script, JSON.stringify(event)], { cwd: dir, env: { PATH: process.env.PATH ?? '' }, timeout: 120_000 })
  const out = JSON.parse(stdout) as { results: Array<{ outcome: { ok: boolean } }> }
  assert.equal(out.results[0]?.outcome.ok, true)
  assert.deepEqual(await readFile(path.join(dest, f.key)), await readFile(path.join(work, 'origin', f.key)))
})
