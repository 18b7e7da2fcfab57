// The default executor: copies run on the coordinator's thread and move to copy worker threads only once that
// thread has been busy for two windows in a row, with an idle core and enough copying left. The event loop's
// utilisation and the machine's idle time are injected; the copies are real (directory to directory, real threads).
import assert from 'node:assert/strict'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import type { EventLoopUtilization } from 'node:perf_hooks'
import { after, before, test } from 'node:test'
import { WorkerExecutor, type CopyConfig } from '../../../src/transfer/embedded/copy-executor.ts'
import { GrowingExecutor, type GrowingExecutorOptions } from '../../../src/transfer/embedded/growing-executor.ts'
import type { CopyOutcome } from '../../../src/transfer/core/types.ts'
import { makeTempDir } from '../../../support/services.ts'

let tmp: string
const FILES = 40
before(async () => {
  tmp = await makeTempDir('colony-growing-')
  await mkdir(path.join(tmp, 'src'))
  for (let i = 0; i < FILES; i++) await writeFile(path.join(tmp, 'src', `s${i}.ts`), `segment ${i}`)
})
after(() => rm(tmp, { recursive: true, force: true }))

const STEP_MS = 60

/** An event loop whose every reading has spent STEP_MS more, `busy` of it active. */
function fakeLoop(busy: number): () => EventLoopUtilization {
  let active = 0
  let idle = 0
  return () => {
    active += STEP_MS * busy
    idle += STEP_MS * (1 - busy)
    return { active, idle, utilization: active / (active + idle) }
  }
}

/** A machine with `cores` idle cores: every reading (one per loop reading) adds STEP_MS of idle time per idle core. */
function fakeIdle(cores: number): () => number {
  let idle = 0
  return () => (idle += STEP_MS * cores)
}

const config = (to: string): CopyConfig => ({ to, allowHosts: [], connections: 4, checksum: false, checkExisting: false })

type Scenario = {
  /** Share of each loop reading that is busy, and the machine's idle cores. */
  busy: number
  idleCores: number
  queued: number
  crawling?: boolean
  /** Poll (deadline 10 s) until the workers are ready before the second half of the files. */
  waitForWorkers?: boolean
  grow?: Partial<GrowingExecutorOptions['grow']>
}

/** Runs every file through the executor, one at a time; resolves with the outcomes and when it moved to workers. */
async function copyAll(name: string, sc: Scenario): Promise<{ outcomes: CopyOutcome[]; grewAt: number | undefined; inlineAtEnd: boolean }> {
  const to = path.join(tmp, name)
  const outcomes: CopyOutcome[] = []
  let grewAt: number | undefined
  let next: (o: CopyOutcome) => void = () => {}
  const exec = new GrowingExecutor(config(to), (_id, o) => next(o), {
    createPool: () => new WorkerExecutor(undefined, 2, (_id, o) => next(o)), queued: () => sc.queued, crawling: () => sc.crawling ?? false,
    utilization: fakeLoop(sc.busy), idleMs: fakeIdle(sc.idleCores), onGrow: () => { grewAt = outcomes.length }, ...(sc.grow ? { grow: sc.grow } : {}),
  })
  try {
    for (let i = 0; i < FILES; i++) {
      const done = new Promise<CopyOutcome>((r) => { next = r })
      exec.run({ id: i + 1, ref: { source: pathToFileURL(path.join(tmp, 'src', `s${i}.ts`)).href, key: `c/s${i}.ts`, kind: 'segment' } })
      outcomes.push(await done)
      if (i === FILES / 2 && sc.waitForWorkers) {
        const deadline = Date.now() + 10_000
        while (exec.inline && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
      }
    }
    return { outcomes, grewAt, inlineAtEnd: exec.inline }
  } finally {
    await exec.close()
    for (let i = 0; i < FILES; i++) assert.equal(await readFile(path.join(to, 'c', `s${i}.ts`), 'utf8'), `segment ${i}`)
  }
}

/** Every file copied, and every copy on the coordinator's thread: no worker was started. */
function assertStayedInline(r: Awaited<ReturnType<typeof copyAll>>, why?: string): void {
  assert.ok(r.outcomes.every((o) => o.ok), JSON.stringify(r.outcomes.filter((o) => !o.ok)))
  assert.equal(r.grewAt, undefined, why)
  assert.equal(r.inlineAtEnd, true)
}

/** Every file copied, the copies moved to workers at file `notBefore` or later and by the middle, and stayed there. */
function assertMovedToWorkers(r: Awaited<ReturnType<typeof copyAll>>, notBefore = 0): void {
  assert.ok(r.outcomes.every((o) => o.ok), JSON.stringify(r.outcomes.filter((o) => !o.ok)))
  assert.ok(r.grewAt !== undefined && r.grewAt >= notBefore && r.grewAt <= FILES / 2 + 1, `grew at file ${r.grewAt}`)
  assert.equal(r.inlineAtEnd, false)
}

test('an idle coordinator keeps the copies on its own thread', async () => {
  assertStayedInline(await copyAll('idle', { busy: 0.3, idleCores: 1, queued: 1000 }))
})

test('a busy coordinator with copying left moves the copies to worker threads', async () => {
  assertMovedToWorkers(await copyAll('busy', { busy: 0.95, idleCores: 1, queued: 1000, waitForWorkers: true }))
})

test('a busy coordinator on a machine with no idle core keeps the copies (the store or origin needs that core)', async () => {
  assertStayedInline(await copyAll('no-core', { busy: 0.95, idleCores: 0.2, queued: 1000 }))
})

test('a crawl that keeps a busy coordinator going moves the copies once they have run minLeftMs', async () => {
  // Few files queued at any time, but the crawl goes on: 3 s of readings (60 ms each) is 50 copies; grow earlier to see it.
  assertStayedInline(await copyAll('crawling', { busy: 0.95, idleCores: 1, queued: 2, crawling: true }), 'not before the copies have run minLeftMs')
  assertMovedToWorkers(await copyAll('crawling-early', { busy: 0.95, idleCores: 1, queued: 2, crawling: true, waitForWorkers: true, grow: { minLeftMs: 600 } }), 9)
})

test('a busy coordinator near the end of the work does not start workers', async () => {
  // Each reading spans 60 ms with one copy finished per reading: ~17 copies a second, 3 s of work needs ≥ 50 queued.
  assertStayedInline(await copyAll('short', { busy: 0.95, idleCores: 1, queued: 10 }))
})
