// Entry of a `colony live serve` worker process (forked by serve.ts with its options in the environment).
import cluster from 'node:cluster'
import { createLogger } from '../../shared/logger.ts'
import { runLiveWorker, type ServeLiveOptions } from './serve.ts'

const logger = createLogger({ name: `colony-live-w${cluster.worker?.id ?? process.pid}` })
try {
  await runLiveWorker(JSON.parse(process.env.COLONY_LIVE_WORKER ?? '{}') as ServeLiveOptions, logger)
} catch (err) {
  logger.error({ err: String(err) }, 'live worker failed to start')
  process.exit(1)
}
