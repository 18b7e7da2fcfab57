import { Registry, collectDefaultMetrics } from 'prom-client'

export { Counter, Gauge, Histogram, Registry } from 'prom-client'

/** A fresh registry per server so several servers in one process (tests, demo) never share series. */
export function createMetricsRegistry(options: { prefix?: string; defaults?: boolean } = {}): Registry {
  const registry = new Registry()
  if (options.defaults ?? true) collectDefaultMetrics({ register: registry, prefix: options.prefix ?? 'colony_' })
  return registry
}
