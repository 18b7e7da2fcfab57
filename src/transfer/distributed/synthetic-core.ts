import type { DistributedCore } from './core-port.ts'
import type { RunConfig } from './run-config.ts'
import { NullDestination, SyntheticSource, copySynthetic, crawlSynthetic, parseSynthetic, scanSynthetic } from './synthetic.ts'

/**
 * The core for `synthetic:` runs (benchmarks, coordination tests): no origin, `null:` destination.
 * Copies still stream bytes through a Source and a Destination.
 */
export function createSyntheticCore(config: RunConfig): DistributedCore {
  const p = parseSynthetic(config.sources[0] ?? 'synthetic:')
  const source = new SyntheticSource({ size: p.size, failRate: p.failRate })
  const dest = new NullDestination()
  return {
    scan: (src) => Promise.resolve(scanSynthetic(src)),
    crawl: (entry) => Promise.resolve(crawlSynthetic(entry)),
    copy: (ref) => copySynthetic(ref, source, dest),
    listable: () => false,
    close: () => Promise.resolve(),
  }
}
