// The Destination contract against every destination adapter: a directory (async and blocking writes) and S3
// (s3rver; small bodies through the lean signed PUT and through the SDK).
import { readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { DirDestination } from '../../../src/transfer/adapters/dir-destination.ts'
import { S3Destination } from '../../../src/transfer/adapters/s3-destination.ts'
import { makeTempDir, startS3rver } from '../../../support/services.ts'
import { destinationContract, type DestinationFixture } from './destination.contract.ts'

async function dirFixture(syncSmallWrites: boolean): Promise<DestinationFixture> {
  const root = await makeTempDir('colony-destination-contract-')
  return {
    destination: new DirDestination(root, { syncSmallWrites }),
    read: (key) => readFile(path.join(root, key)).catch(() => undefined),
    close: () => rm(root, { recursive: true, force: true }),
  }
}

async function s3Fixture(leanPut: boolean): Promise<DestinationFixture> {
  const s3 = await startS3rver(['dst'])
  const client = new S3Client({ endpoint: s3.url, region: 'us-east-1', forcePathStyle: true, credentials: s3.credentials })
  return {
    destination: new S3Destination('s3://dst/copy', { endpoint: s3.url, region: 'us-east-1', credentials: s3.credentials, leanPut }),
    read: async (key) => {
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: 'dst', Key: `copy/${key}` }))
        return Buffer.from(await out.Body?.transformToByteArray() ?? [])
      } catch {
        return undefined
      }
    },
    close: async () => { client.destroy(); await s3.stop() },
  }
}

destinationContract({ name: 'DirDestination', create: () => dirFixture(false) })
destinationContract({ name: 'DirDestination (blocking writes, as on a copy worker)', create: () => dirFixture(true) })
destinationContract({ name: 'S3Destination (lean PUT for small bodies)', create: () => s3Fixture(true) })
destinationContract({ name: 'S3Destination (SDK only)', create: () => s3Fixture(false) })
