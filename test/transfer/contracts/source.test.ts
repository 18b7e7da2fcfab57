// The Source contract against every origin adapter: a directory, S3 (s3rver) and HTTP (a real node:http origin).
import { mkdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { DirSource } from '../../../src/transfer/adapters/dir-source.ts'
import { HttpSource } from '../../../src/transfer/adapters/http-source.ts'
import { S3Source } from '../../../src/transfer/adapters/s3-source.ts'
import { makeTempDir, startS3rver } from '../../../support/services.ts'
import { startFixtureOrigin, type OriginFile } from '../fixtures/origin-fixture.ts'
import { sourceContract } from './source.contract.ts'

sourceContract({
  name: 'DirSource',
  async create(files) {
    const root = await makeTempDir('colony-source-contract-')
    for (const [name, body] of files) {
      await mkdir(path.dirname(path.join(root, name)), { recursive: true })
      await writeFile(path.join(root, name), body)
    }
    return {
      source: new DirSource(), root: pathToFileURL(root).href,
      locator: (name) => pathToFileURL(path.join(root, name)).href,
      close: () => rm(root, { recursive: true, force: true }),
    }
  },
})

sourceContract({
  name: 'S3Source',
  async create(files) {
    const s3 = await startS3rver(['src'])
    const client = new S3Client({ endpoint: s3.url, region: 'us-east-1', forcePathStyle: true, credentials: s3.credentials })
    for (const [name, body] of files) await client.send(new PutObjectCommand({ Bucket: 'src', Key: `lib/${name}`, Body: body }))
    client.destroy()
    return {
      source: new S3Source({ endpoint: s3.url, region: 'us-east-1', credentials: s3.credentials }), root: 's3://src/lib/',
      locator: (name) => `s3://src/lib/${name}`,
      close: () => s3.stop(),
    }
  },
})

sourceContract({
  name: 'HttpSource',
  async create(files) {
    const served = new Map<string, OriginFile>([...files].map(([name, body]) => [`/lib/${name}`, { body, type: 'application/octet-stream' }]))
    const origin = await startFixtureOrigin(served)
    return { source: new HttpSource(), locator: (name) => `${origin.url}/lib/${name}`, close: () => origin.stop() }
  },
})
