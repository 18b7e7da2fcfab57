// s3rver in a process of its own for the benchmark, so that its CPU can be read per phase from /proc and the
// bench's own work (reading colony's NDJSON events, walking destinations) does not run on s3rver's thread.
//   node --openssl-legacy-provider bench/transfer/s3rver-process.ts <dir> <bucket> [key.pem cert.pem (HTTPS)]
// Prints `S3RVER_READY <url>` once listening; stops on SIGTERM/SIGINT or when its parent goes away.
// s3rver encrypts ListObjectsV2 continuation tokens with DES, which Node's OpenSSL 3 only offers in its legacy
// provider: without the flag any listing over 1000 keys (colony's verification, rclone's checks) gets a 500.
import { readFileSync } from 'node:fs'
import { freePort } from '../../support/services.ts'

const [dir, bucket = 'bench', keyFile, certFile] = process.argv.slice(2)
if (!dir) throw new Error('usage: s3rver-process.ts <dir> [bucket]')
const { default: S3rver } = await import('s3rver')
const port = await freePort()
const server = new S3rver({ port, address: '127.0.0.1', silent: true, directory: dir, configureBuckets: [{ name: bucket, configs: [] }],
  ...(keyFile && certFile ? { key: readFileSync(keyFile), cert: readFileSync(certFile) } : {}) })
await server.run()
process.stdout.write(`S3RVER_READY ${keyFile ? 'https' : 'http'}://127.0.0.1:${port}\n`)
const stop = (): void => { void server.close().finally(() => process.exit(0)) }
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
process.stdin.on('end', stop)
process.stdin.resume()
