// The CLI's bound on V8's old-generation growth (src/transfer/embedded/heap-growth.ts): the same workload, run in a
// child with and without it, peaks at a smaller old space with it; a --heap-growing-percent given to node wins.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, test } from 'node:test'
import { limitHeapGrowth } from '../../../src/transfer/embedded/heap-growth.ts'

const CHILD = fileURLToPath(new URL('./heap-growth-child.ts', import.meta.url))

/**
 * The child's peak old space. Its GC runs on its own thread, so where a collection starts does not depend on how
 * fast concurrent marking threads get CPU on a busy machine. The baseline ('v8-max') runs with V8's largest default
 * growing factor on a 64-bit host, 4 (--heap-growing-percent=300): the factor V8 picks by itself follows its GC and
 * mutator speeds, so it is the largest on a quiet machine and smaller on a loaded one, and a test against it would
 * measure the load.
 */
async function peakOldSpace(mode: 'limit' | 'v8-max'): Promise<number> {
  const args = mode === 'limit' ? [CHILD, 'limit'] : ['--heap-growing-percent=300', CHILD, 'none']
  const { stdout } = await promisify(execFile)(process.execPath, ['--single-threaded-gc', ...args], { timeout: 30_000, killSignal: 'SIGKILL' })
  return Number(stdout.split(' ')[0])
}

describe('limitHeapGrowth', { timeout: 60_000 }, () => {
  test('keeps an old generation nearer its live size than V8 does by default on a quiet machine', async () => {
    // Three runs of each, alternating, compared by their medians: where a collection lands against the child's
    // samples moves one run's peak by a tenth or more (the wide child peaked at 110–172 MB in runs of one day).
    const wide: number[] = []
    const limited: number[] = []
    for (let i = 0; i < 3; i++) {
      wide.push(await peakOldSpace('v8-max'))
      limited.push(await peakOldSpace('limit'))
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[1] as number
    const mb = (xs: number[]): string => xs.map((x) => (x / 2 ** 20).toFixed(1)).join(', ')
    assert.ok(median(limited) < median(wide) * 0.85, `old space peaked at ${mb(limited)} MB limited, ${mb(wide)} MB with V8's largest factor`)
  })

  test("leaves the process's own --heap-growing-percent in place", () => {
    assert.equal(limitHeapGrowth(20, ['--heap-growing-percent=50']), false)
    assert.equal(limitHeapGrowth(20, ['--stack-size=900', '--heap_growing_percent', '50']), false)
    assert.equal(limitHeapGrowth(20, ['--stack-size=900']), true)
  })
})
