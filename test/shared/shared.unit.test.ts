import assert from 'node:assert/strict'
import { test } from 'node:test'
import { untilAborted } from '../../src/shared/abort.ts'
import { HostAllowList } from '../../src/shared/allow-host.ts'
import { computeBackoff, parseRetryAfter } from '../../src/shared/backoff.ts'
import { formatHelp, parseCommand, type CommandSpec } from '../../src/shared/cli-options.ts'
import { ColonyError, UsageError } from '../../src/shared/errors.ts'
import { resolveInside, toSafeKey } from '../../src/shared/safe-path.ts'
import { siblingModule } from '../../src/shared/module-url.ts'
import { RateMeter } from '../../src/shared/rate-meter.ts'
import { parseDuration, parseRate, parseSize } from '../../src/shared/units.ts'

test('ColonyError serialises code, details and cause', () => {
  const err = new ColonyError('COLONY_X', 'boom', { cause: new Error('inner'), details: { a: 1 }, status: 418 })
  assert.deepEqual(err.toJSON(), { name: 'ColonyError', code: 'COLONY_X', message: 'boom', details: { a: 1 }, cause: 'inner' })
  assert.equal(err.status, 418)
  assert.equal(new UsageError('bad').code, 'COLONY_USAGE')
})

test('toSafeKey refuses escapes, including percent-encoded ones', () => {
  assert.equal(toSafeKey('/a/b/c.ts'), 'a/b/c.ts')
  for (const bad of ['../x', 'a/../../x', '%2e%2e/x', 'a\\..\\x', 'a//b', 'a/./b', 'x\0y', '']) {
    assert.throws(() => toSafeKey(bad), { code: 'COLONY_PATH_ESCAPE' }, bad)
  }
  assert.equal(resolveInside('/tmp/root', 'a/b'), '/tmp/root/a/b')
  assert.throws(() => resolveInside('/tmp/root', '../etc/passwd'), { code: 'COLONY_PATH_ESCAPE' })
})

test('HostAllowList matches exact, wildcard and port-specific hosts', () => {
  const list = new HostAllowList(['cdn.example.com', '*.media.test', '127.0.0.1:8080'])
  assert.ok(list.allows(new URL('https://cdn.example.com/x')))
  assert.ok(list.allows(new URL('https://a.b.media.test/x')))
  assert.ok(list.allows(new URL('http://127.0.0.1:8080/x')))
  assert.ok(!list.allows(new URL('http://127.0.0.1:9090/x')))
  assert.ok(!list.allows(new URL('https://evil.com/x')))
  assert.throws(() => list.assert(new URL('file:///etc/passwd')), { code: 'COLONY_FORBIDDEN_TARGET' })
  assert.throws(() => list.assert(new URL('https://evil.com/')), { code: 'COLONY_FORBIDDEN_TARGET' })
})

test('backoff is full-jitter and bounded; Retry-After parses both forms', () => {
  assert.equal(computeBackoff(3, { baseMs: 100, random: () => 0.999999 }), 799)
  assert.equal(computeBackoff(30, { baseMs: 100, maxMs: 1000, random: () => 0.5 }), 500)
  assert.equal(parseRetryAfter('3'), 3000)
  assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 5_000), 5000)
  assert.equal(parseRetryAfter('soon'), undefined)
})

test('units parse sizes, rates and durations; garbage is a usage error', () => {
  assert.equal(parseSize('8MB'), 8e6)
  assert.equal(parseSize('2KiB'), 2048)
  assert.equal(parseRate('8MB/s'), 8e6)
  assert.equal(parseRate('unlimited'), 0)
  assert.equal(parseDuration('250ms'), 250)
  assert.equal(parseDuration('5m'), 300_000)
  assert.throws(() => parseSize('lots'), { code: 'COLONY_USAGE' })
})

test('parseCommand: flag beats env beats default; unknown flags are refused', () => {
  const spec: CommandSpec = { name: 'colony t', usage: '', summary: 's', options: {
    concurrency: { type: 'number', description: 'c', default: 4 },
    'allow-host': { type: 'list', description: 'h' },
    json: { type: 'boolean', description: 'j' },
  } }
  const env = { COLONY_CONCURRENCY: '9', COLONY_ALLOW_HOST: 'a.com, b.com' }
  const p = parseCommand(spec, ['src'], env)
  assert.equal(p.values.concurrency, 9)
  assert.deepEqual(p.values['allow-host'], ['a.com', 'b.com'])
  assert.deepEqual(p.positionals, ['src'])
  assert.equal(parseCommand(spec, ['--concurrency', '2'], env).values.concurrency, 2)
  assert.equal(parseCommand(spec, [], {}).values.concurrency, 4)
  assert.throws(() => parseCommand(spec, ['--nope'], {}), { code: 'COLONY_USAGE' })
  assert.throws(() => parseCommand(spec, ['--concurrency', 'x'], {}), { code: 'COLONY_USAGE' })
  assert.match(formatHelp(spec), /--concurrency <number>\s+c \(default: 4\) \[env COLONY_CONCURRENCY\]/)
})

test('untilAborted settles with the promise, or rejects with the reason once the signal aborts', async () => {
  assert.equal(await untilAborted(Promise.resolve(7), new AbortController().signal), 7)
  const ac = new AbortController()
  const never = new Promise<number>(() => undefined)
  const waiting = untilAborted(never, ac.signal)
  ac.abort(new Error('stop'))
  await assert.rejects(waiting, /stop/)
  await assert.rejects(untilAborted(Promise.resolve(1), AbortSignal.abort(new Error('already'))), /already/)
})

test('RateMeter reports bytes per second over whole windows and keeps the last value in between', () => {
  let now = 10_000
  const m = new RateMeter(50, () => now)
  assert.equal(m.sample(0), 0)
  now += 49
  assert.equal(m.sample(1000), 0, 'no window has passed yet')
  now += 51
  assert.equal(m.sample(1000), 10_000, '1000 bytes over 100 ms')
  now += 30
  assert.equal(m.sample(5000), 10_000, 'the next window has not passed')
  now += 20
  assert.equal(m.sample(5000), 80_000, '4000 more bytes over the next 50 ms')
})

test('siblingModule names the .ts file from source and the .js file from dist', () => {
  assert.equal(siblingModule('file:///p/src/live/serve.ts', 'worker-main').href, 'file:///p/src/live/worker-main.ts')
  assert.equal(siblingModule('file:///p/dist/live/serve.js', 'worker-main').href, 'file:///p/dist/live/worker-main.js')
})
