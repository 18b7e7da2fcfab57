// The executor `--workers auto` uses where one copy worker is to give (embedded/elastic-executor.ts): copies start
// on the calling thread; the worker starts only for a run of small files with a backlog, and then takes the copies.
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { makeTempDir } from '../../../support/services.ts'
import { ElasticExecutor, type ElasticOptions } from '../../../src/transfer/embedded/elastic-executor.ts'
import type { CopyConfig } from '../../../src/transfer/embedded/copy-executor.ts'
import type { CopyOutcome, FileKind } from '../../../src/transfer/core/types.ts'

describe('elastic copy executor', { timeout: 60_000 }, () => {
  /** /small/N: 200 bytes, /big/N: 128 KiB; each body names its index so a mixed-up copy shows. */
  const body = (kind: string, n: number): Buffer => {
    const size = kind === 'big' ? 128 * 1024 : 200
    return Buffer.alloc(size, `${kind}-${n};`)
  }
  const server = createServer((req, res) => {
    const m = /^\/(small|big)\/(\d+)$/.exec(req.url ?? '')
    if (!m) { res.writeHead(404).end(); return }
    const b = body(m[1] as string, Number(m[2]))
    res.writeHead(200, { 'content-length': b.length, 'content-type': 'video/mp2t' }).end(b)
  })
  let base = ''
  let dir = ''
  before(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    dir = await makeTempDir('colony-elastic-')
  })
  after(async () => {
    server.closeAllConnections()
    await new Promise<void>((r) => server.close(() => r()))
    await rm(dir, { recursive: true, force: true })
  })

  const options: ElasticOptions = { startBacklog: 64, smallFileBytes: 16 * 1024, sizeSamples: 32 }
  // 'mixed': fifteen small media playlists for every big segment (all together they average 8.4 KiB, the segments
  // alone 128 KiB).
  const sizeOf = (kind: string, n: number): 'small' | 'big' => kind === 'mixed' ? (n % 16 === 0 ? 'big' : 'small') : kind as 'small' | 'big'
  const kindOf = (kind: string, n: number): FileKind => kind === 'mixed' && n % 16 !== 0 ? 'media' : 'segment'

  /**
   * Runs at least `minCount` files (whole waves of 16) of `kind` through a fresh executor, `backlog` being what the caller reports after
   * each hand-out; with `untilWorker`, waves go on (up to a deadline) until two have gone to the worker.
   */
  async function run(kind: 'small' | 'big' | 'mixed', minCount: number, backlog: (i: number) => number, untilWorker = false): Promise<{ started: Array<{ workers: number; backlog: number; meanBytes: number }>; stages: string[]; outcomes: CopyOutcome[] }> {
    const to = path.join(dir, `${kind}-${minCount}-${Math.random().toString(36).slice(2)}`)
    const config: CopyConfig = { to, allowHosts: [new URL(base).host], connections: 8, checksum: false, checkExisting: false }
    const started: Array<{ workers: number; backlog: number; meanBytes: number }> = []
    const outcomes: CopyOutcome[] = []
    const stages: string[] = []
    let done = 0
    const ex = new ElasticExecutor(config, (_id, o) => { outcomes.push(o); done++ }, { ...options, onStart: (i) => started.push(i) })
    // Hand files out in waves of 16, reporting the backlog after each, as the engine does; each wave is copied
    // before the next goes out.
    const deadline = Date.now() + 30_000
    let next = 0
    while (next < minCount || (untilWorker && stages.filter((x) => x === 'worker').length < 2 && Date.now() < deadline)) {
      for (let k = 0; k < 16; k++, next++) ex.run({ id: next, ref: { source: `${base}/${sizeOf(kind, next)}/${next}`, key: `${kind}/${next}.ts`, kind: kindOf(kind, next) } })
      ex.demand(backlog(next))
      stages.push(ex.stage)
      const target = next
      await new Promise<void>((r) => { const t = setInterval(() => { if (done >= target) { clearInterval(t); r() } }, 2) })
    }
    await ex.close()
    const count = next
    for (let n = 0; n < count; n++) assert.deepEqual(await readFile(path.join(to, kind, `${n}.ts`)), body(sizeOf(kind, n), n), `${kind}/${n}`)
    return { started, stages, outcomes }
  }

  test('small files with a backlog: the worker starts once, after the size samples, and takes the copies', async () => {
    const { started, stages, outcomes } = await run('small', 64, () => 1000, true)
    assert.equal(outcomes.filter((o) => o.ok).length, stages.length * 16)
    assert.equal(started.length, 1)
    assert.equal(started[0]?.workers, 1)
    assert.equal(started[0]?.meanBytes, 200)
    // The first waves ran on this thread (fewer than sizeSamples copies had finished); the last ones on the worker.
    assert.deepEqual(stages.slice(0, 2), ['inline', 'inline'])
    assert.deepEqual(stages.slice(-2), ['worker', 'worker'], stages.join(' '))
  })

  test('files averaging 16 KiB or more stay on the calling thread, whatever the backlog', async () => {
    const { started, stages, outcomes } = await run('big', 80, () => 1000)
    assert.equal(outcomes.filter((o) => o.ok).length, 80)
    assert.deepEqual(started, [])
    assert.ok(stages.every((s) => s === 'inline'), stages.join(' '))
  })

  test('small playlists among big segments are no sample: the copies stay on the calling thread', async () => {
    const { started, stages } = await run('mixed', 640, () => 1000)
    assert.deepEqual(started, [])
    assert.ok(stages.every((s) => s === 'inline'), stages.join(' '))
  })

  test('small files without a backlog (a short run) stay on the calling thread', async () => {
    const { started, stages } = await run('small', 96, () => 10)
    assert.deepEqual(started, [])
    assert.ok(stages.every((s) => s === 'inline'), stages.join(' '))
  })
})
