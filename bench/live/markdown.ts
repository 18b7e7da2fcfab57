// The results of one bench/live run as Markdown tables (pasted into docs/benchmarks/live.md).
import type { LiveBenchResult } from './generator/run-bench.ts'

const n = (x: number | undefined, d = 0): string => (x !== undefined && Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : 'n/a')

type Row = [string, (r: LiveBenchResult) => string, ((c: LiveBenchResult, x: LiveBenchResult) => string)?]

const ratio = (f: (r: LiveBenchResult) => number) => (c: LiveBenchResult, x: LiveBenchResult): string => {
  const a = f(c)
  const b = f(x)
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${n(a / b, 2)}×` : ''
}

const ROWS: Row[] = [
  ['connections held / requested', (r) => `${n(r.connections.held)} / ${n(r.connections.requested)}${r.connections.failed ? ` (${r.connections.failed} failed)` : ''}`],
  ['ramp (s)', (r) => n(r.connections.rampSeconds, 1)],
  ['server processes', (r) => String(r.server.processes)],
  ['server RSS held (MB)', (r) => n(r.server.rssHeldBytes / 1e6, 1), ratio((r) => r.server.rssHeldBytes)],
  ['RSS per connection (KB)', (r) => n(r.server.rssPerConnectionBytes / 1000, 1), ratio((r) => r.server.rssPerConnectionBytes)],
  ['PSS per connection (KB)', (r) => n(r.server.pssPerConnectionBytes / 1000, 1), ratio((r) => r.server.pssPerConnectionBytes)],
  ['load', (r) => `${n(r.window.publishRate)} ${r.window.type}/s, ${r.window.topics} topics, ${n(r.window.seconds, 1)} s`],
  ['deliveries/s', (r) => n(r.deliveries.perSecond), ratio((r) => r.deliveries.perSecond)],
  ['frames/s on the sockets', (r) => n(r.deliveries.framesPerSecond)],
  ['received / expected', (r) => `${n(r.deliveries.ratio * 100, 1)}%`],
  ['server CPU (share of 2 cores)', (r) => `${n(r.server.cpuSeconds, 2)} s (${n(r.server.cpuShare * 100)}%)`],
  ['deliveries per server CPU-second', (r) => n(r.deliveries.perServerCpuSecond), ratio((r) => r.deliveries.perServerCpuSecond)],
  ['latency p50 / p90 / p99 (ms)', (r) => `${n(r.latency.p50Ms, 1)} / ${n(r.latency.p90Ms, 1)} / ${n(r.latency.p99Ms, 1)}`],
  ['generator CPU (share), busiest loop', (r) => `${n(r.generator.cpuShare * 100)}%, ${n(r.generator.maxEventLoopUtilization * 100)}%`],
  ['machine busy during window, 1-min load average', (r) => `${n(r.machineBusyShare * 100)}%, ${n(r.loadAverage, 1)}`],
  ['publishes accepted / skipped / failed', (r) => `${n(r.publisher.accepted)} / ${n(r.publisher.skipped)} / ${n(r.publisher.failed)}`],
]

export function formatMarkdown(scenario: string, colony: LiveBenchResult | undefined, nchan: LiveBenchResult | undefined): string {
  const lines = [`### ${scenario}`, '', '| | colony | nchan | colony/nchan |', '|---|---|---|---|']
  for (const [label, f, cmp] of ROWS) {
    lines.push(`| ${label} | ${colony ? f(colony) : '—'} | ${nchan ? f(nchan) : '—'} | ${colony && nchan && cmp ? cmp(colony, nchan) : ''} |`)
  }
  const sweep = formatSweepMarkdown(scenario, [['colony', colony], ['nchan', nchan]])
  return sweep ? `${lines.join('\n')}\n\n${sweep}` : lines.join('\n')
}

/** The saturation sweep (several publish rates on the same connections), both servers. */
export function formatSweepMarkdown(scenario: string, results: Array<[string, LiveBenchResult | undefined]>): string {
  const rows = results.flatMap(([kind, r]) => (r && r.steps.length > 1 ? r.steps.map((s) => ({ kind, s })) : []))
  if (rows.length === 0) return ''
  return [
    `#### ${scenario}: rate sweep on the same connections`, '',
    '| server | rate/s | deliveries/s | server CPU | deliveries per CPU-s | p50 / p90 / p99 ms | generator CPU, busiest loop |', '|---|---|---|---|---|---|---|',
    ...rows.map(({ kind, s }) => `| ${kind} | ${n(s.window.publishRate)} | ${n(s.deliveries.perSecond)} | ${n(s.serverCpu.share * 100)}% | ${n(s.deliveries.perServerCpuSecond)} | ${n(s.latency.p50Ms, 1)} / ${n(s.latency.p90Ms, 1)} / ${n(s.latency.p99Ms, 1)} | ${n(s.generator.cpuShare * 100)}%, ${n(s.generator.maxEventLoopUtilization * 100)}% |`),
  ].join('\n')
}
