// Worker-thread entry (loaded by WorkerExecutor's bootstrap): copies the jobs the coordinator sends and answers
// with outcomes in batches: one message per RESULT_BATCH outcomes or per RESULT_DELAY_MS, whichever comes first
// (a message wakes the coordinator and costs about as much as a small file's copy; the coordinator keeps up to
// twice its concurrency handed out, so a millisecond's delay never leaves a worker without work).
import { parentPort } from 'node:worker_threads'
import type { CopyOutcome } from '../core/types.ts'
import type { CopyWorkerReply, CopyWorkerRequest } from '../wire-format.ts'
import { createCopier } from './copy-executor.ts'

const port = parentPort
if (!port) throw new Error('copy-worker must run as a worker thread')

// Built when the coordinator sends its settings (messages arrive in order: config, then jobs).
let copier: ReturnType<typeof createCopier> | undefined
const RESULT_BATCH = 64
const RESULT_DELAY_MS = 2
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
    const ready: CopyWorkerReply = { type: 'ready' }
    port.postMessage(ready)
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
      if (pending.length >= RESULT_BATCH) send()
      else if (!scheduled) { scheduled = true; setTimeout(send, RESULT_DELAY_MS) }
      if (closing && active === 0) { send(); void finish() }
    })
  }
})
