// The adaptive concurrency controller against synthetic origins: a model gives, for a number of copies in flight,
// the files/s, bytes per file and latency a run would see (and whether the origin answers 429). A fake clock
// advances in 10 ms ticks; every completion of a tick is reported to the controller.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { AdaptiveLimit, type LimitChange } from '../../../src/transfer/core/limits/adaptive-limit.ts'
import { TRANSFER_DEFAULTS } from '../../../src/transfer/defaults.ts'
import { createRandom } from '../../../src/shared/seeded-random.ts'

type Model = (limit: number, t: number) => { filesPerS: number; bytesPerFile: number; latencyMs: number; overloaded?: number; retryAfterMs?: number; inFlight?: number }

function simulate(model: Model, durationMs: number, options: { noise?: () => number; busy?: (limit: number) => number } = {}): { limiter: AdaptiveLimit; changes: LimitChange[]; files: number; limits: number[]; filesAfter: (ms: number) => number } {
  let now = 0
  const busy = options.busy
  const limiter: AdaptiveLimit = new AdaptiveLimit({ now: () => now, ...(busy ? { busy: () => busy(limiter.limit) } : {}) })
  const changes: LimitChange[] = []
  const limits: number[] = []
  let files = 0
  let carry = 0
  const perTick: number[] = []
  for (; now < durationMs; now += 10) {
    const m = model(limiter.limit, now)
    const noise = options.noise?.() ?? 1
    carry += (m.filesPerS * noise) / 100
    const n = Math.floor(carry)
    carry -= n
    files += n
    perTick.push(n)
    for (let i = 0; i < n; i++) {
      const c = limiter.onComplete(m.bytesPerFile, m.latencyMs, m.inFlight ?? limiter.limit)
      if (c) changes.push(c)
    }
    for (let i = 0; i < (m.overloaded ?? 0); i++) {
      const c = limiter.onOverload(m.retryAfterMs)
      if (c) changes.push(c)
    }
    limits.push(limiter.limit)
  }
  return { limiter, changes, files, limits, filesAfter: (ms) => perTick.slice(ms / 10).reduce((a, b) => a + b, 0) }
}

// A far origin: 50 ms before the first byte, 10 MB/s per connection; the copier's CPU tops out at `cap` files/s.
const far = (fileBytes: number, cap: number): Model => (limit) => {
  const perCopyMs = 52 + (fileBytes / 10e6) * 1000
  const filesPerS = Math.min((limit * 1000) / perCopyMs, cap)
  return { filesPerS, bytesPerFile: fileBytes, latencyMs: Math.max(perCopyMs, (limit * 1000) / cap) }
}

test('far origin, mid files: the limit climbs until goodput stops growing and stays within 15% of the best', () => {
  const cap = 1500
  const r = simulate(far(125_000, cap), 20_000)
  const best = 20 * cap
  assert.ok(r.files >= 0.85 * best * 0.9, `copied ${r.files} of at best ${best} (changes ${JSON.stringify(r.changes.slice(0, 8))})`)
  assert.ok(r.filesAfter(5000) >= 0.85 * 15 * cap, `after 5 s: ${r.filesAfter(5000)} of ${15 * cap}`)
  // Goodput tops out from 97 copies in flight; probes downwards visit 20% below the base.
  assert.ok(r.limiter.limit >= 0.8 * 85 && r.limiter.limit <= 512, `limit ${r.limiter.limit}`)
})

test('far origin, tiny files: the limit reaches several hundred copies', () => {
  const r = simulate(far(300, 6000), 20_000)
  assert.ok(r.filesAfter(5000) >= 0.85 * 15 * 6000, `after 5 s: ${r.filesAfter(5000)} of ${15 * 6000}; limit ${r.limiter.limit}`)
  assert.ok(r.limiter.limit >= 250, `limit ${r.limiter.limit}`)
})

test('far origin, 2 MB segments: bytes/s decides, and the limit stops near the bandwidth limit', () => {
  const r = simulate(far(2_000_000, 125), 20_000)
  assert.ok(r.filesAfter(5000) >= 0.85 * 15 * 125, `after 5 s: ${r.filesAfter(5000)} of ${15 * 125}; limit ${r.limiter.limit}`)
  assert.ok(r.limiter.limit <= 128, `limit ${r.limiter.limit}`)
})

test('near origin, CPU-bound: the limit does not grow past what saturates the CPU', () => {
  // 1 ms per copy on the wire; the CPU caps goodput at 2000 files/s from 4 copies in flight on.
  const model: Model = (limit) => ({ filesPerS: Math.min(limit * 500, 2000), bytesPerFile: 125_000, latencyMs: Math.max(2, (limit * 1000) / 2000) })
  const r = simulate(model, 20_000)
  assert.ok(Math.max(...r.limits) <= 128, `highest limit ${Math.max(...r.limits)}`)
  assert.ok(r.limiter.limit <= 40, `limit ${r.limiter.limit} (changes ${r.changes.map((c) => `${c.reason}:${c.limit}`).join(' ')})`)
  assert.ok(r.filesAfter(5000) >= 0.9 * 15 * 2000)
})

test('a window that could not fill the limit does not raise it', () => {
  const model: Model = () => ({ filesPerS: 500, bytesPerFile: 1000, latencyMs: 60, inFlight: 30 })
  const r = simulate(model, 10_000)
  assert.equal(r.limiter.limit, 64)
  assert.deepEqual(r.changes, [])
})

test('429 above 200 copies: the limit backs off without collapsing and keeps copying', () => {
  // The origin serves 200 copies at once; the excess is answered 429 (no Retry-After).
  const model: Model = (limit) => {
    const served = Math.min(limit, 200)
    return { filesPerS: (served * 1000) / 60, bytesPerFile: 100_000, latencyMs: 60, overloaded: limit > 200 ? Math.ceil((limit - 200) / 10) : 0 }
  }
  const r = simulate(model, 30_000)
  const firstOverload = r.changes.findIndex((c) => c.reason === 'overload')
  assert.ok(firstOverload >= 0, 'an overload was seen')
  const after = r.limits.slice(r.changes.length ? 500 : 0)
  assert.ok(Math.min(...after) >= 64, `the limit fell to ${Math.min(...after)} (changes ${r.changes.map((c) => `${c.reason}:${c.limit}`).join(' ')})`)
  assert.ok(r.filesAfter(5000) >= 0.8 * 25 * (200_000 / 60), `after 5 s: ${r.filesAfter(5000)}`)
})

test('one burst of 429s backs off once, and Retry-After holds the limit', () => {
  let now = 0
  const limiter = new AdaptiveLimit({ now: () => now, initial: 256 })
  const changes = [] as Array<LimitChange | undefined>
  for (let i = 0; i < 100; i++) changes.push(limiter.onOverload(5000))
  assert.equal(limiter.limit, Math.floor(256 * TRANSFER_DEFAULTS.adaptive.backoff))
  assert.equal(changes.filter(Boolean).length, 1)
  const held = limiter.limit
  // Completions for 4.9 s: no probe upwards while Retry-After holds.
  for (; now < 4900; now += 10) for (let i = 0; i < 20; i++) limiter.onComplete(100_000, 60, held)
  assert.equal(limiter.limit, held)
  let next: LimitChange | undefined
  for (; now < 6000 && !next; now += 10) for (let i = 0; i < 20 && !next; i++) next = limiter.onComplete(100_000, 60, held)
  assert.equal(next?.reason, 'recover')
  assert.ok(limiter.limit > held, `recovered to ${limiter.limit}`)
})

test('repeated overload windows never take the limit below min', () => {
  let now = 0
  const limiter = new AdaptiveLimit({ now: () => now, min: 8 })
  for (let w = 0; w < 50; w++) {
    now += 2000
    limiter.onOverload()
    for (let i = 0; i < 30; i++) limiter.onComplete(1000, 50, limiter.limit)
  }
  assert.equal(limiter.limit, 8)
})

test('noisy goodput (±15%): the limit stays in bounds and goodput within 15% of the best', () => {
  const seed = Number(process.env.SEED ?? Date.now() % 100000)
  const rand = createRandom(seed)
  const cap = 1500
  const r = simulate(far(125_000, cap), 20_000, { noise: () => 0.85 + rand() * 0.3 })
  assert.ok(r.limits.every((l) => l >= 8 && l <= 1024), `seed ${seed}`)
  assert.ok(r.filesAfter(5000) >= 0.85 * 15 * cap, `seed ${seed}: after 5 s ${r.filesAfter(5000)} of ${15 * cap}; limit ${r.limiter.limit}`)
})

// The same controller against copies that take time: a copy sent at t finishes at t + its latency, so the goodput
// of a round answers for the limit of the round before (the lag a real run has). The origin is `baseMs` away; the
// copier's CPU serves `cap` files/s, and copies beyond what it serves queue for it (Little's law). 1 ms ticks.
type Lagged = { baseMs: number; cap: number; bytes: number; durationMs: number; dip?: { fromMs: number; toMs: number } }

function simulateLagged(o: Lagged): { limiter: AdaptiveLimit; changes: LimitChange[]; limitAt: (ms: number) => number; firstAt: number; files: number } {
  let now = 0
  const limiter = new AdaptiveLimit({ now: () => now })
  const changes: LimitChange[] = []
  const limits: number[] = []
  const finishing = new Map<number, Array<{ sent: number; with: number }>>()
  let inFlight = 0
  let files = 0
  let firstAt = -1
  let served = 0
  for (; now < o.durationMs; now++) {
    // What the CPU lets finish this ms (fewer during a dip); the rest waits a ms longer.
    const dipped = o.dip && now >= o.dip.fromMs && now < o.dip.toMs
    served += (dipped ? o.cap / 4 : o.cap) / 1000
    const due = finishing.get(now) ?? []
    finishing.delete(now)
    // First come, first served: what the CPU could not serve this ms goes first the next.
    const waiting: typeof due = []
    for (const copy of due) {
      if (served < 1) { waiting.push(copy); continue }
      served--
      if (firstAt < 0) firstAt = now
      files++
      const c = limiter.onComplete(o.bytes, now - copy.sent, inFlight, copy.with)
      inFlight--
      if (c) changes.push(c)
    }
    if (waiting.length) finishing.set(now + 1, [...waiting, ...(finishing.get(now + 1) ?? [])])
    served = Math.min(served, o.cap / 1000)
    while (inFlight < limiter.limit) {
      const at = now + o.baseMs
      const list = finishing.get(at) ?? []
      inFlight++
      list.push({ sent: now, with: inFlight })
      finishing.set(at, list)
    }
    limits.push(limiter.limit)
  }
  return { limiter, changes, files, firstAt, limitAt: (ms) => limits[ms] ?? NaN }
}

test('slow start: on a far origin the limit doubles per copy latency, not per 200 ms window', () => {
  // 52 ms away; the CPU serves 6000 files/s, so ~312 copies in flight carry the best goodput.
  const r = simulateLagged({ baseMs: 52, cap: 6000, bytes: 300, durationMs: 3000 })
  const at = r.limitAt(r.firstAt + 250)
  assert.ok(at >= 256, `limit ${at} 250 ms after the first copy finished (changes ${r.changes.map((c) => `${c.reason}:${c.limit}`).join(' ')})`)
  assert.ok(r.files >= 0.85 * 6000 * (3000 - r.firstAt) / 1000, `copied ${r.files}`)
  assert.ok(r.limiter.limit >= 0.8 * 312 && r.limiter.limit <= 4 * 312, `limit ${r.limiter.limit}`)
})

test('slow start: a round that copied no faster, then another, sends the limit back to where that growth began', () => {
  const r = simulateLagged({ baseMs: 52, cap: 2000, bytes: 125_000, durationMs: 3000 })
  const settle = r.changes.find((c) => c.reason === 'settle')
  assert.ok(settle, `changes ${r.changes.map((c) => `${c.reason}:${c.limit}`).join(' ')}`)
  // ~104 copies carry 2000 files/s at 52 ms; the start ends between one and two doublings above that.
  assert.ok(settle.limit >= 104 && settle.limit <= 2 * 2 * 104, `settled at ${settle.limit}`)
  assert.ok(r.changes.filter((c) => c.reason === 'grow').every((c) => c.limit <= 2 * c.previous + 1), 'at most a doubling per round')
})

test('slow start: one slow round (the CPU at a quarter for 100 ms) does not end the climb', () => {
  const r = simulateLagged({ baseMs: 52, cap: 6000, bytes: 300, durationMs: 3000, dip: { fromMs: 200, toMs: 300 } })
  // ~312 copies carry the best goodput; a start that ended at the slow round would stay near 256 for a second.
  const at = r.limitAt(r.firstAt + 600)
  assert.ok(at >= 0.8 * 312 * 1.5, `limit ${at} (changes ${r.changes.map((c) => `${c.reason}:${c.limit}`).join(' ')})`)
})

test('slow start on a near origin: latency rising with the copies in flight pauses the growth', () => {
  // 1 ms away, the CPU serves 2000 files/s: 2 copies in flight would do; every extra copy only waits.
  const r = simulateLagged({ baseMs: 1, cap: 2000, bytes: 125_000, durationMs: 3000 })
  assert.ok(r.limiter.range.highest <= 128, `highest ${r.limiter.range.highest} (changes ${r.changes.map((c) => `${c.reason}:${c.limit}`).join(' ')})`)
  assert.ok(r.limiter.limit <= 64, `limit ${r.limiter.limit}`)
})

test('a copying thread with no time to spare: the limit does not climb past where the CPU saturates, and probes go down', () => {
  // A near origin whose copies queue for the copier's CPU: 4,000 files/s at most, from 8 copies in flight on; the
  // latency the controller sees grows slowly (the origin's part dominates), so only the busy share says "saturated".
  const cap = 4000
  const near: Model = (limit) => ({ filesPerS: Math.min(limit * 500, cap), bytesPerFile: 300, latencyMs: 2 + limit / 200 })
  const busy = (limit: number): number => Math.min(1, (limit * 500) / cap)
  const without = simulate(near, 5_000)
  const withBusy = simulate(near, 5_000, { busy })
  const highest = (r: ReturnType<typeof simulate>): number => Math.max(...r.limits)
  assert.ok(highest(without) > 2 * TRANSFER_DEFAULTS.adaptive.initial, `without the busy share the limit climbs (highest ${highest(without)})`)
  // Neither the start nor a steady probe goes above where it began; the probes go down (and are kept or undone).
  assert.ok(highest(withBusy) <= TRANSFER_DEFAULTS.adaptive.initial, `highest ${highest(withBusy)}: ${JSON.stringify(withBusy.changes.slice(0, 6))}`)
  assert.ok(withBusy.changes.some((c) => c.reason === 'probe-down'), JSON.stringify(withBusy.changes.slice(0, 6)))
  assert.ok(withBusy.files >= 0.95 * without.files, `same goodput: ${withBusy.files} against ${without.files}`)
})
