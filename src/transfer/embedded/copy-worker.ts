// Worker-thread entry (loaded by WorkerExecutor's bootstrap): copies the jobs the coordinator sends and answers
// with outcomes, batched per tick.
import { parentPort } from 'node:worker_threads'
import type { CopyOutcome } from '../core/types.ts'
import type { CopyWorkerReply, CopyWorkerRequest } from '../wire-format.ts'
import { createCopier } from './copy-executor.ts'

const port = parentPort
if (!port) throw new Error('copy-worker must run as a worker thread')

// Built when the coordinator sends its settings (messages arrive in order: config, then jobs).
let copier: ReturnType<typeof createCopier> | undefined
let pending: Array<[number, CopyOutcome]> = []
let scheduled = false
let active = 0
let closing = false

function send(): void {
  scheduled = false
  if (pending.length === 0) return
  const reply: CopyWorkerReply = { type: 'results', results: pending }
  port?.postMessage(reply)
  pending = []
}

async function finish(): Promise<void> {
  await copier?.close()
  port?.close()
}

port.on('message', (msg: CopyWorkerRequest) => {
  if (msg.type === 'config') {
    copier ??= createCopier(msg.config)
    return
  }
  if (msg.type === 'close') {
    closing = true
    if (active === 0) void finish()
    return
  }
  const c = copier
  if (!c) throw new Error('copy-worker: jobs before config')
  for (const job of msg.jobs) {
    active++
    void c.copy(job.ref).then((outcome) => {
      active--
      pending.push([job.id, outcome])
      if (!scheduled) { scheduled = true; setImmediate(send) }
      if (closing && active === 0) { send(); void finish() }
    })
  }
})
