// Copy workers to an S3-compatible destination sign their PUTs with credentials the coordinator hands them, when
// those do not expire, and then never load the AWS SDK on a fresh destination (real s3rver, a fresh Node process).
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { after, before, test } from 'node:test'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { S3Destination } from '../../../src/transfer/adapters/s3-destination.ts'
import { startS3rver } from '../../../support/services.ts'

const run = promisify(execFile)
let s3: Awaited<ReturnType<typeof startS3rver>>
before(async () => { s3 = await startS3rver(['dst']) })
after(async () => { await s3.stop() })

test('portableCredentials: given keys, keys without expiry from a client, none for expiring ones', async () => {
  const given = new S3Destination('s3://dst/a', { endpoint: s3.url, credentials: s3.credentials })
  assert.deepEqual(await given.portableCredentials(), s3.credentials)
  await given.close()

  const lasting = new S3Client({ endpoint: s3.url, region: 'us-east-1', forcePathStyle: true, credentials: () => Promise.resolve({ ...s3.credentials, sessionToken: 't' }) })
  const fromChain = new S3Destination('s3://dst/a', { endpoint: s3.url, client: lasting })
  assert.deepEqual(await fromChain.portableCredentials(), { ...s3.credentials, sessionToken: 't' })

  const expiring = new S3Client({ endpoint: s3.url, region: 'us-east-1', forcePathStyle: true, credentials: () => Promise.resolve({ ...s3.credentials, expiration: new Date(Date.now() + 3_600_000) }) })
  const refreshed = new S3Destination('s3://dst/a', { endpoint: s3.url, client: expiring })
  assert.equal(await refreshed.portableCredentials(), undefined)
  lasting.destroy()
  expiring.destroy()
})

test('a lean PUT with given credentials stores the object without loading the SDK', async () => {
  // A fresh process records every module it resolves; the destination there puts one body and closes.
  const destinationUrl = new URL('../../../src/transfer/adapters/s3-destination.ts', import.meta.url).href
  const script = `
import module from 'node:module'
const resolved = []
module.registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); resolved.push(r.url); return r } })
const { S3Destination } = await import(${JSON.stringify(destinationUrl)})
const dest = new S3Destination('s3://dst/lean', { endpoint: ${JSON.stringify(s3.url)}, region: 'us-east-1', credentials: ${JSON.stringify(s3.credentials)} })
const stored = await dest.putBuffer('seg.ts', Buffer.from('segment body'), { contentType: 'video/mp2t' })
await dest.close()
console.log(JSON.stringify({ stored, sdk: resolved.filter((u) => u.includes('@aws-sdk')) }))
`
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('../../../', import.meta.url)) })
  const out = JSON.parse(stdout) as { stored: { size: number }; sdk: string[] }
  assert.equal(out.stored.size, 12)
  assert.deepEqual(out.sdk, [], 'no @aws-sdk module resolved')
  const client = new S3Client({ endpoint: s3.url, region: 'us-east-1', forcePathStyle: true, credentials: s3.credentials })
  const got = await client.send(new GetObjectCommand({ Bucket: 'dst', Key: 'lean/seg.ts' }))
  assert.equal(await got.Body?.transformToString(), 'segment body')
  client.destroy()
})
