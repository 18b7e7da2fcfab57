// The baseline: one BullMQ job per file, processed by BullMQ workers doing the same core copy
// (synthetic source → null destination). Run as a child process: `node bullmq-baseline.ts worker <redis> <queue> <concurrency>`.
import { Worker } from 'bullmq'
import { copyFile } from '../../src/transfer/core/copy-file.ts'
import { NullDestination, SyntheticSource } from '../../support/transfer-synthetic.ts'

export type BaselineJob = { c: string; source: string; key: string }

if (process.argv[2] === 'worker') {
  const [, , , url = '', queue = 'baseline', conc = '100', size = '100'] = process.argv
  const u = new URL(url)
  const source = new SyntheticSource({ size: Number(size) })
  const destination = new NullDestination()
  const worker = new Worker<BaselineJob>(queue, async (job) => {
    const out = await copyFile({ source: job.data.source, key: job.data.key, kind: 'segment' }, { source, destination, checkExisting: false })
    if (!out.ok) throw new Error(out.message)
    return out.bytes
  }, { connection: { host: u.hostname, port: Number(u.port), maxRetriesPerRequest: null }, concurrency: Number(conc), autorun: true })
  const stop = (): void => { void worker.close().then(() => process.exit(0)) }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}
