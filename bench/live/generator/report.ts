// Human-readable lines for a run's result and for a colony-vs-nchan comparison.
import type { LiveBenchResult } from './run-bench.ts'

const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a')
const kb = (bytes: number): string => `${fmt(bytes / 1024, 1)} KiB`
const pct = (x: number): string => `${fmt(x * 100, 0)}%`

export function formatResult(r: LiveBenchResult, label = r.target.kind): string {
  const errs = Object.entries(r.connections.errors).map(([k, v]) => `${k}=${v}`).join(' ')
  const pubErrs = Object.entries(r.publisher.errors).map(([k, v]) => `${k}=${v}`).join(' ')
  return [
    `[${label}] ${r.target.url}`,
    `  connections  held ${fmt(r.connections.held)}/${fmt(r.connections.requested)} (failed ${r.connections.failed}, dropped ${r.connections.dropped}${errs ? `: ${errs}` : ''}), ramp ${fmt(r.connections.rampSeconds, 1)} s${r.connections.serverViewers === undefined ? '' : `; server counts ${fmt(r.connections.serverViewers)} viewers`}`,
    `  server       ${r.server.processes} processes, RSS ${fmt(r.server.rssHeldBytes / 1e6, 1)} MB held (${kb(r.server.rssPerConnectionBytes)}/conn; +${kb(r.server.rssDeltaPerConnectionBytes)}/conn over idle; PSS ${kb(r.server.pssPerConnectionBytes)}/conn), peak ${fmt(r.server.rssPeakBytes / 1e6, 1)} MB`,
    `  load         ${fmt(r.window.publishRate)} ${r.window.type}/s over ${r.window.topics} topics for ${fmt(r.window.seconds, 1)} s`,
    `  deliveries   ${fmt(r.deliveries.perSecond)}/s (frames ${fmt(r.deliveries.framesPerSecond)}/s, likes in coalesced frames ${fmt(r.deliveries.likesPerSecond)}/s), received ${pct(r.deliveries.ratio)} of expected`,
    `  server CPU   ${fmt(r.server.cpuSeconds, 2)} s = ${pct(r.server.cpuShare)} of the machine → ${fmt(r.deliveries.perServerCpuSecond)} deliveries per CPU-second`,
    `  latency      p50 ${fmt(r.latency.p50Ms, 1)} ms, p90 ${fmt(r.latency.p90Ms, 1)} ms, p99 ${fmt(r.latency.p99Ms, 1)} ms, max ${fmt(r.latency.maxMs, 1)} ms (${fmt(r.latency.samples)} samples)`,
    `  generator    ${r.generator.processes} processes, CPU ${pct(r.generator.cpuShare)} of the machine (${fmt(r.generator.readsPerSecond)} socket reads/s, ${fmt(r.generator.cpuMicrosPerRead, 1)} µs CPU each), busiest event loop ${pct(r.generator.maxEventLoopUtilization)}; machine busy ${pct(r.machineBusyShare)}, load average ${fmt(r.loadAverage, 1)}`,
    `  publisher    ${fmt(r.publisher.accepted)} accepted, ${r.publisher.failed} failed, ${r.publisher.skipped} skipped (publisher backlog), ${r.publisher.abandoned} unanswered at stop${pubErrs ? ` (${pubErrs})` : ''}`,
    ...formatSteps(r),
  ].join('\n')
}

/** One line per publishing window when the run swept several rates. */
function formatSteps(r: LiveBenchResult): string[] {
  if (r.steps.length < 2) return []
  return ['  sweep        rate/s → deliveries/s | server CPU | deliveries per CPU-s | p50 / p99 ms | generator loop', ...r.steps.map((s) =>
    `    ${fmt(s.window.publishRate).padStart(7)} → ${fmt(s.deliveries.perSecond).padStart(9)} | ${pct(s.serverCpu.share).padStart(4)} | ${fmt(s.deliveries.perServerCpuSecond).padStart(9)} | ${fmt(s.latency.p50Ms, 1)} / ${fmt(s.latency.p99Ms, 1)} | ${pct(s.generator.maxEventLoopUtilization)}`)]
}

/** colony ÷ nchan for the figures where higher is better (deliveries) and lower is better (memory, latency). */
export function formatComparison(colony: LiveBenchResult, nchan: LiveBenchResult, scenario: string): string {
  const ratio = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${fmt(a / b, 2)}×` : 'n/a')
  return [
    `== ${scenario}: colony vs nchan (same load, same run)`,
    `  deliveries per server CPU-second  colony ${fmt(colony.deliveries.perServerCpuSecond)}  nchan ${fmt(nchan.deliveries.perServerCpuSecond)}  ratio ${ratio(colony.deliveries.perServerCpuSecond, nchan.deliveries.perServerCpuSecond)}`,
    `  deliveries per second             colony ${fmt(colony.deliveries.perSecond)}  nchan ${fmt(nchan.deliveries.perSecond)}  ratio ${ratio(colony.deliveries.perSecond, nchan.deliveries.perSecond)}`,
    `  RSS per connection                colony ${kb(colony.server.rssPerConnectionBytes)}  nchan ${kb(nchan.server.rssPerConnectionBytes)}  ratio ${ratio(colony.server.rssPerConnectionBytes, nchan.server.rssPerConnectionBytes)}`,
    `  p99 latency                       colony ${fmt(colony.latency.p99Ms, 1)} ms  nchan ${fmt(nchan.latency.p99Ms, 1)} ms`,
    ...colony.steps.slice(1).map((c, i) => {
      const x = nchan.steps[i + 1]
      return x ? `  at ${fmt(c.window.publishRate)}/s: deliveries per CPU-second colony ${fmt(c.deliveries.perServerCpuSecond)}  nchan ${fmt(x.deliveries.perServerCpuSecond)}  ratio ${ratio(c.deliveries.perServerCpuSecond, x.deliveries.perServerCpuSecond)}; p99 ${fmt(c.latency.p99Ms, 1)} vs ${fmt(x.latency.p99Ms, 1)} ms` : ''
    }).filter(Boolean),
  ].join('\n')
}
