// The --bwlimit / --max-rps core on an injected clock: timetable parsing and lookup, the shared GCRA bucket, the
// chunked lease over a remote bucket.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseBwRate, parseBwSchedule, rateAt } from '../../../src/transfer/core/limits/bwlimit-schedule.ts'
import { cachedRate, gcraStep, LeasePacer, SharedPacer } from '../../../src/transfer/core/limits/rate-limit.ts'
import { createSharedLimits, limitRates } from '../../../src/transfer/core/limits/source-limits.ts'
import { TransferError } from '../../../src/transfer/errors.ts'

const badLimit = (fn: () => unknown, re: RegExp): void => {
  assert.throws(fn, (err: unknown) => err instanceof TransferError && err.code === 'TRANSFER_BAD_LIMIT' && re.test(err.message))
}

test('rates: units in powers of 1000 and 1024, off, and refusals', () => {
  assert.equal(parseBwRate('5M'), 5_000_000)
  assert.equal(parseBwRate('512K'), 512_000)
  assert.equal(parseBwRate('1.5MiB'), 1.5 * 1024 * 1024)
  assert.equal(parseBwRate('20MB/s'), 20_000_000)
  assert.equal(parseBwRate('off'), 0)
  assert.equal(parseBwRate('0'), 0)
  badLimit(() => parseBwRate('500'), /no unit/)
  badLimit(() => parseBwRate('5X'), /not a rate/)
  badLimit(() => parseBwRate('10M:1M'), /upload:download/)
  badLimit(() => parseBwRate('10B'), /smallest rate/)
})

test('timetable: parsed in order; refused when unsorted, malformed or mixed', () => {
  assert.deepEqual(parseBwSchedule('5M'), { slots: [{ minute: 0, rate: 5_000_000 }], weekly: false })
  assert.deepEqual(parseBwSchedule('08:00,20M 19:00,off'), { slots: [{ minute: 480, rate: 20_000_000 }, { minute: 1140, rate: 0 }], weekly: false })
  assert.deepEqual(parseBwSchedule('08:00,1M;12:30,2M').slots.map((s) => s.minute), [480, 750])
  assert.deepEqual(parseBwSchedule('Mon-08:00,5M Sat-00:00,off').slots, [{ minute: 480, rate: 5_000_000 }, { minute: 5 * 1440, rate: 0 }])
  badLimit(() => parseBwSchedule('19:00,off 08:00,20M'), /ascending/)
  badLimit(() => parseBwSchedule('08:00,1M 08:00,2M'), /ascending/)
  badLimit(() => parseBwSchedule('Sat-08:00,1M Mon-08:00,2M'), /Monday first/)
  badLimit(() => parseBwSchedule('24:00,1M'), /not a time of day/)
  badLimit(() => parseBwSchedule('08:60,1M'), /not a time of day/)
  badLimit(() => parseBwSchedule('8h,1M 9h,2M'), /HH:MM/)
  badLimit(() => parseBwSchedule('08:00 1M'), /TIME,RATE/)
  badLimit(() => parseBwSchedule('08:00,1M,2M'), /TIME,RATE/)
  badLimit(() => parseBwSchedule('Mon-08:00,1M 09:00,2M'), /every entry/)
  badLimit(() => parseBwSchedule('Xyz-08:00,1M'), /unknown day/)
  badLimit(() => parseBwSchedule('   '), /empty/)
  badLimit(() => limitRates({ maxRps: 0 }), /above 0/)
  badLimit(() => limitRates({ maxRps: -1 }), /above 0/)
  badLimit(() => limitRates({ bwlimit: '1M', timeZone: 'Mars/Olympus' }), /time zone/)
  assert.equal(createSharedLimits({ bwlimit: 'off' }), undefined)
  assert.equal(createSharedLimits({}), undefined)
})

test('timetable lookup: the latest entry at or before now, wrapping around; in the named zone', () => {
  const s = parseBwSchedule('08:00,20M 19:00,off')
  const utc = (h: number, m = 0, day = 7): number => Date.UTC(2026, 11, day, h, m) // 2026-12-07 is a Monday
  assert.equal(rateAt(s, utc(7, 59), 'UTC'), 0) // before the first entry: the last one (19:00 of the day before)
  assert.equal(rateAt(s, utc(8, 0), 'UTC'), 20_000_000)
  assert.equal(rateAt(s, utc(18, 59), 'UTC'), 20_000_000)
  assert.equal(rateAt(s, utc(19, 0), 'UTC'), 0)
  // The same instant is 09:00 in Paris (UTC+1 in December): the limit is on there.
  assert.equal(rateAt(s, utc(7, 59), 'Europe/Paris'), 20_000_000)
  // Local time when no zone is named: a Date built from local fields.
  assert.equal(rateAt(s, new Date(2026, 11, 7, 12, 0).getTime()), 20_000_000)
  assert.equal(rateAt(s, new Date(2026, 11, 7, 3, 0).getTime()), 0)
  const w = parseBwSchedule('Mon-08:00,5M Fri-18:00,1M Sat-00:00,off')
  assert.equal(rateAt(w, utc(7, 59, 7), 'UTC'), 0) // Monday before 08:00: Saturday's entry still holds
  assert.equal(rateAt(w, utc(12, 0, 9), 'UTC'), 5_000_000) // Wednesday
  assert.equal(rateAt(w, utc(20, 0, 11), 'UTC'), 1_000_000) // Friday evening
  assert.equal(rateAt(w, utc(12, 0, 13), 'UTC'), 0) // Sunday
})

test('a cached rate is re-read once a second: a timetable change takes effect during a run', () => {
  let calls = 0
  let rate = 1000
  const fn = cachedRate(() => { calls++; return rate }, 1000)
  assert.equal(fn(0), 1000)
  rate = 2000
  assert.equal(fn(999), 1000)
  assert.equal(fn(1000), 2000)
  assert.equal(calls, 2)
})

test('GCRA: bursts up to the allowance, then paces; idle time never stores more than the burst', () => {
  // 1000 units/s, burst 100: the first 100 go at once, the next 100 wait 0.1 s.
  let s = gcraStep(0, 1_000_000, 100, 1000, 100)
  assert.equal(s.waitUs, 0)
  s = gcraStep(s.tat, 1_000_000, 100, 1000, 100)
  assert.equal(s.waitUs, 100_000)
  // After a long idle spell the bucket is merely full again.
  s = gcraStep(s.tat, 60_000_000, 200, 1000, 100)
  assert.equal(s.waitUs, 100_000)
})

test('SharedPacer: two pacers on one buffer (two threads) share one limit; in any second at most rate + burst', () => {
  let now = 1_000_000
  const clock = (): number => now
  const limits = createSharedLimits({ bwlimit: '100K' })
  assert.ok(limits)
  const a = new SharedPacer(limits.state, 0, () => 100_000, () => 10_000, clock)
  const b = new SharedPacer(limits.state, 0, () => 100_000, () => 10_000, clock)
  // Simulate readers that each use 10 000 bytes as soon as they are allowed: record when each chunk goes.
  const sent: Array<{ at: number; n: number }> = []
  const ready = [now, now]
  for (let k = 0; k < 60; k++) {
    const who = ready[0] as number <= (ready[1] as number) ? 0 : 1
    now = ready[who] as number
    const wait = (who === 0 ? a : b).reserve(10_000)
    sent.push({ at: now + wait, n: 10_000 })
    ready[who] = now + wait
  }
  for (const start of sent.map((x) => x.at)) {
    const inWindow = sent.filter((x) => x.at >= start && x.at < start + 1000).reduce((t, x) => t + x.n, 0)
    assert.ok(inWindow <= 100_000 + 10_000, `window at ${start}: ${inWindow} bytes`)
  }
  const span = (sent[sent.length - 1] as { at: number }).at - (sent[0] as { at: number }).at
  assert.ok(span >= 5000, `600 kB at 100 kB/s took ${span} ms`)
})

test('LeasePacer: takes chunks from the remote bucket, serves reads locally between round trips', async () => {
  let now = 0
  const clock = (): number => now
  const asked: number[] = []
  let remoteTat = 0
  const reserve = async (amount: number, rate: number, burst: number): Promise<number> => {
    asked.push(amount)
    const s = gcraStep(remoteTat, now * 1000, amount, rate, burst)
    remoteTat = s.tat
    return s.waitUs / 1000
  }
  // 1 MB/s: chunks of 50 ms worth (50 kB), so 16 kB reads need a round trip about every third read.
  const p = new LeasePacer(reserve, () => 1_000_000, () => 64_000, 1, clock)
  let total = 0
  for (let k = 0; k < 30; k++) { await p.reserve(16_000); total += 16_000; now += 16 }
  assert.ok(asked.length <= 11, `${asked.length} round trips for 30 reads`)
  assert.ok(asked.every((n) => n >= 16_000))
  assert.ok(asked.reduce((a, b) => a + b, 0) >= total)
  // "off" never calls the remote bucket.
  const off = new LeasePacer(() => { throw new Error('called') }, () => 0, () => 1, 1, clock)
  assert.equal(off.reserve(1), 0)
})

test('a timetable slot change takes effect during a run: off until 08:00, then paced', () => {
  const eight = new Date(2026, 11, 7, 8, 0).getTime()
  let now = eight - 2000
  const limits = createSharedLimits({ bwlimit: '08:00,100K 19:00,off' })
  assert.ok(limits)
  const rates = limitRates(limits)
  assert.ok(rates.bytes)
  const pacer = new SharedPacer(limits.state, 0, rates.bytes, () => 10_000, () => now)
  // 07:59:58: no limit, a megabyte goes at once.
  assert.equal(pacer.reserve(1_000_000), 0)
  // 08:00:00.5 (the cached rate is re-read after a second): 100 kB/s with a 10 kB burst.
  now = eight + 500
  assert.equal(pacer.reserve(10_000), 0)
  assert.equal(pacer.reserve(10_000), 100)
})
