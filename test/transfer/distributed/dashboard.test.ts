// The dashboard in headless Chromium: classes and counts during a real (synthetic-source) run through all
// four roles, collapsing when finished; then 2,000 classes × 5,000 files with updates flowing.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startRedis, waitFor, type Service } from '../../../support/services.ts'
import { createSilentLogger } from '../../../src/shared/logger.ts'
import { createSyntheticCore } from '../../../support/transfer-synthetic.ts'
import { startDashboard, diffSpan } from '../../../src/transfer/distributed/dashboard/server.ts'
import { createKeys } from '../../../src/transfer/distributed/redis/keys.ts'
import { closeRedis, createRedis } from '../../../src/transfer/distributed/redis/client.ts'
import { submitRun } from '../../../src/transfer/distributed/submit.ts'
import { startWorker } from '../../../src/transfer/distributed/worker.ts'
import { launchChromium, type Browser } from './cdp.ts'

const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url))
let redisSvc: Service
let browser: Browser

before(async () => {
  redisSvc = await startRedis()
  browser = await launchChromium()
  await mkdir(ARTIFACTS, { recursive: true })
})
after(async () => {
  await browser?.close()
  await redisSvc?.stop()
})

test('diffSpan finds the smallest changed byte span', () => {
  assert.equal(diffSpan(Buffer.from([1, 2, 3]), Buffer.from([1, 2, 3])), undefined)
  assert.deepEqual(diffSpan(Buffer.from([1, 2, 3, 4]), Buffer.from([1, 9, 3, 8])), { offset: 1, bytes: Buffer.from([9, 3, 8]) })
  assert.deepEqual(diffSpan(Buffer.from([1]), Buffer.from([1, 0, 5])), { offset: 2, bytes: Buffer.from([5]) })
})

test('the page shows every class and its counts during a run, and collapses finished classes', { timeout: 120_000 }, async () => {
  const prefix = `dash${Date.now()}`
  const keys = createKeys(prefix)
  const redis = createRedis(redisSvc.url)
  const dash = await startDashboard({ redisUrl: redisSvc.url, prefix, port: 0, intervalMs: 200 })
  const opts = { redisUrl: redisSvc.url, prefix, log: createSilentLogger(), createCore: (c: Parameters<typeof createSyntheticCore>[0]) => Promise.resolve(createSyntheticCore(c)), claimIdleMs: 2000 }
  // First only scan + crawl: every file is listed and pending.
  const lister = await startWorker({ ...opts, roles: ['scanner', 'crawler'] })
  let copier: Awaited<ReturnType<typeof startWorker>> | undefined
  try {
    await submitRun(redis, keys, { sources: ['synthetic:?classes=8&files=450&size=200&delay=4&variants=4'], to: 'null:', batchSize: 25 })
    const page = await browser.open(`${dash.url}/`)
    await waitFor(async () => await page.evaluate('document.body.dataset.classes') === '8', { timeoutMs: 30_000, message: 'page lists 8 classes' })
    await waitFor(async () => await page.evaluate(`[...document.querySelectorAll('.cls')].every((e) => e.dataset.files === '450')`), { timeoutMs: 30_000, message: 'every class has 450 files' })
    // Text is drawn once the class is on screen (IntersectionObserver), a frame after its counts.
    const firstText = await waitFor(async () => {
      const text = await page.evaluate(`document.querySelector('.cls pre').textContent`) as string
      return [...text.replace(/\n/g, '')].length === 450 ? text : undefined
    }, { timeoutMs: 10_000, message: 'first class drawn' })
    assert.ok([...firstText].every((ch) => ch === '◯' || ch === '\n'), 'all pending before any copier runs')

    copier = await startWorker({ ...opts, roles: ['copier', 'aggregator'], concurrency: 4, copyBatches: 1 })
    const mid = await waitFor(async () => {
      const v = await page.evaluate(`(() => { const e = [...document.querySelectorAll('.cls')].find((x) => Number(x.dataset.verified) > 0 && Number(x.dataset.verified) < 450); return e ? { id: e.dataset.id, verified: Number(e.dataset.verified), text: e.querySelector('pre').textContent } : null })()`) as { id: string; verified: number; text: string } | null
      return v
    }, { timeoutMs: 60_000, intervalMs: 100, message: 'a class part-way through' })
    const done = [...mid.text].filter((ch) => ch === '◉').length
    assert.ok(done > 0 && done <= 450, `${done} ◉ drawn for ${mid.id}`)
    const summary = await page.evaluate(`document.querySelector('#summary [data-k=files] b').textContent`) as string
    assert.match(summary, /^\d+ \/ 3600$/)
    await writeFile(path.join(ARTIFACTS, 'dashboard-mid-run.png'), await page.screenshot())

    await waitFor(async () => await page.evaluate(`document.querySelectorAll('.cls.finished.verified').length`) === 8, { timeoutMs: 90_000, message: 'all classes verified on the page' })
    assert.equal(await page.evaluate(`[...document.querySelectorAll('.cls.finished pre')].every((p) => p.textContent === '')`), true, 'a finished class is one line')
    await waitFor(async () => await page.evaluate(`document.querySelector('#summary [data-k=files] b').textContent`) === '3600 / 3600', { timeoutMs: 10_000, message: 'summary complete' })
    await writeFile(path.join(ARTIFACTS, 'dashboard-finished.png'), await page.screenshot())
  } finally {
    await copier?.stop()
    await lister.stop()
    await dash.close()
    await closeRedis(redis)
  }
})

test('2,000 classes × 5,000 files load and stay smooth while only changes are sent', { timeout: 180_000 }, async (t) => {
  const prefix = `dashbig${Date.now()}`
  const keys = createKeys(prefix)
  const redis = createRedis(redisSvc.url)
  const run = 'big'
  const CLASSES = 2000
  const FILES = 5000
  // The state a run of 10M files leaves in Redis, written directly: half the classes finished, the rest part-way.
  const pipe = redis.pipeline()
  pipe.hset(keys.meta(run), 'config', JSON.stringify({ run, sources: ['synthetic:'], to: 'null:', retries: 3, batchSize: 100, executor: 'local', core: {}, createdAt: new Date().toISOString() }), 'createdAt', new Date().toISOString(), 'state', 'running')
  pipe.sadd(keys.runs, run).sadd(keys.active, run)
  for (let c = 0; c < CLASSES; c++) {
    const id = `c${String(c).padStart(4, '0')}`
    const finished = c % 2 === 0
    pipe.hset(keys.classes(run), id, JSON.stringify({ id, source: `synthetic:class/${id}`, state: finished ? 'verified' : 'copying' }))
    pipe.hset(keys.count(run), id, FILES).hset(keys.version(run), id, 1)
    const bits = Buffer.alloc(FILES / 8, finished ? 0xff : 0)
    if (!finished) bits.fill(0xff, 0, (c % 600) + 1)
    pipe.set(keys.done(run, id), bits)
  }
  pipe.hset(keys.stats(run), 'files', (CLASSES / 2) * FILES)
  await pipe.exec()
  const dash = await startDashboard({ redisUrl: redisSvc.url, prefix, run, port: 0, intervalMs: 250 })
  const stop = new AbortController()
  try {
    const started = Date.now()
    const page = await browser.open(`${dash.url}/`, { width: 1400, height: 1000 })
    await waitFor(async () => await page.evaluate('document.body.dataset.classes') === String(CLASSES), { timeoutMs: 90_000, intervalMs: 200, message: '2000 classes on the page' })
    const loadMs = Date.now() - started
    const nodes = await page.evaluate('document.getElementsByTagName("*").length') as number
    assert.ok(nodes < 10 * CLASSES, `${nodes} DOM elements for ${CLASSES * FILES} files: text, not a node per file`)

    // Listen to the stream like a page does, to measure what travels once the snapshot is sent.
    const res = await fetch(`${dash.url}/events`, { signal: stop.signal })
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    let snapshotBytes = 0
    let updateBytes = 0
    let fullAfterSnapshot = 0
    let inSnapshot = true
    const reading = (async () => {
      const dec = new TextDecoder()
      let buf = ''
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }))
        if (done || !value) return
        buf += dec.decode(value, { stream: true })
        let i: number
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, i)
          buf = buf.slice(i + 2)
          if (frame.startsWith('event: summary')) { inSnapshot = false; continue }
          if (inSnapshot) snapshotBytes += frame.length
          else if (frame.startsWith('event: classes')) { updateBytes += frame.length; if (frame.includes('"full":true')) fullAfterSnapshot++ }
        }
      }
    })()

    // Copiers at work: 40 classes gain files every 100 ms for 4 s, while the page counts frames.
    await page.evaluate(`window.__gaps = []; (() => { let last = performance.now(); const f = (t) => { window.__gaps.push(t - last); last = t; if (window.__gaps.length < 100000) requestAnimationFrame(f) }; requestAnimationFrame(f) })()`)
    const until = Date.now() + 4000
    let round = 0
    while (Date.now() < until) {
      const p = redis.pipeline()
      for (let k = 0; k < 40; k++) {
        const c = 1 + 2 * ((round * 40 + k) % (CLASSES / 2))
        const id = `c${String(c).padStart(4, '0')}`
        const from = (c % 600) + 1 + round * 2
        p.setrange(keys.done(run, id), from, Buffer.from([0xff, 0xff])).hincrby(keys.version(run), id, 1)
      }
      await p.exec()
      round++
      await new Promise((r) => setTimeout(r, 100))
    }
    await new Promise((r) => setTimeout(r, 600))
    const gaps = await page.evaluate('window.__gaps.slice(1)') as number[]
    stop.abort()
    await reading
    const sorted = [...gaps].sort((a, b) => a - b)
    const p95 = sorted[Math.floor(sorted.length * 0.95)] ?? Infinity
    const fps = gaps.length / (gaps.reduce((a, b) => a + b, 0) / 1000)
    const fullState = CLASSES * FILES / 8 * 2
    t.diagnostic(`2000×5000: page ready in ${loadMs} ms, ${nodes} elements, ${fps.toFixed(0)} fps, p95 frame gap ${p95.toFixed(0)} ms; snapshot ${snapshotBytes} B, updates ${updateBytes} B over 4 s (all bitmaps as hex: ${fullState} B)`)
    assert.equal(fullAfterSnapshot, 0, 'after the snapshot only diffs are sent')
    assert.ok(updateBytes < fullState / 20, `updates ${updateBytes} B ≪ full state ${fullState} B`)
    assert.ok(fps >= 15, `page kept drawing at ${fps.toFixed(1)} fps while updates flowed`)
    await writeFile(path.join(ARTIFACTS, 'dashboard-2000x5000.png'), await page.screenshot())
  } finally {
    stop.abort()
    await dash.close()
    await closeRedis(redis)
  }
})
