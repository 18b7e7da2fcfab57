// The CLI's bound on V8's old-generation growth (src/transfer/embedded/heap-growth.ts): the same workload, run in a
// child with and without it, peaks at a smaller old space with it; a --heap-growing-percent given to node wins.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, test } from 'node:test'
import { limitHeapGrowth } from '../../../src/transfer/embedded/heap-growth.ts'

const CHILD = fileURLToPath(new URL('./heap-growth-child.ts', import.meta.url))

/** The child's peak old space. Its GC runs on its own thread, so where a collection starts does not depend on how
 * fast concurrent marking threads get CPU on a busy machine. */
async function peakOldSpace(mode: 'limit' | 'none'): Promise<number> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--single-threaded-gc', CHILD, mode], { timeout: 30_000, killSignal: 'SIGKILL' })
  return Number(stdout.split(' ')[0])
}

describe('limitHeapGrowth', { timeout: 60_000 }, () => {
  test('keeps an old generation nearer its live size than V8 does by default', async () => {
    const [none, limited] = await Promise.all([peakOldSpace('none'), peakOldSpace('limit')])
    assert.ok(limited < none * 0.8, `old space peaked at ${(limited / 2 ** 20).toFixed(1)} MB limited, ${(none / 2 ** 20).toFixed(1)} MB by default`)
  })

  test("leaves the process's own --heap-growing-percent in place", () => {
    assert.equal(limitHeapGrowth(20, ['--heap-growing-percent=50']), false)
    assert.equal(limitHeapGrowth(20, ['--stack-size=900', '--heap_growing_percent', '50']), false)
    assert.equal(limitHeapGrowth(20, ['--stack-size=900']), true)
  })
})
