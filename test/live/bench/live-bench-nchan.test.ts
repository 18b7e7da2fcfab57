// Smoke test of the load generator against a tiny real nginx+nchan: small load, checked for exact delivery
// counts and sane measurements, not for speed.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { test } from 'node:test'
import { runLiveBenchmark } from '../../../src/live/bench/run-bench.ts'
import { NCHAN_MODULE, startNchanServer } from '../../../src/live/bench/servers.ts'

test('generator against nginx+nchan: every connection held, every event delivered, latency and CPU measured', { timeout: 40_000, skip: !existsSync(NCHAN_MODULE) && 'nchan module not installed' }, async (t) => {
  const server = await startNchanServer({ workers: 1 })
  t.after(() => server.stop())
  const r = await runLiveBenchmark({
    target: { kind: 'nchan', url: server.url }, serverPids: [server.pid],
    connections: 300, topics: 3, rate: 40, durationMs: 1500, warmupMs: 300, processes: 2,
  })
  assert.equal(r.connections.held, 300)
  assert.equal(r.connections.failed, 0)
  assert.equal(r.server.processes, 2, 'nginx master + 1 worker')
  assert.ok(r.server.rssHeldBytes > 0 && r.server.cpuSeconds > 0)
  assert.ok(r.publisher.accepted > 0)
  // Each comment reaches the 100 viewers of its topic, nothing more, nothing less.
  assert.equal(r.deliveries.received, r.deliveries.expected)
  assert.ok(r.latency.samples > 0 && r.latency.p99Ms >= r.latency.p50Ms && r.latency.p50Ms > 0)
  assert.ok(r.generator.cpuSeconds > 0)
})
