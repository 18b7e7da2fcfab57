import { Registry, collectDefaultMetrics } from 'prom-client'

export { Counter, Gauge, Histogram, Registry } from 'prom-client'

/**
 * How often the event-loop lag series samples the loop, in ms. prom-client's own 10 ms is a libuv timer that wakes
 * an otherwise idle process 100 times a second: about 1 % of a core per process, and in a fleet of agents sharing
 * a host, a context switch per agent every 10 ms while they move bytes.
 */
const EVENT_LOOP_SAMPLE_MS = 100

/**
 * A fresh registry per server so several servers in one process (tests, demo) never share series. `defaults`:
 * Node's default series (process CPU, memory, event-loop lag, GC).
 */
export function createMetricsRegistry(options: { prefix?: string; defaults?: boolean } = {}): Registry {
  const registry = new Registry()
  if (options.defaults ?? true) {
    collectDefaultMetrics({ register: registry, prefix: options.prefix ?? 'colony_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS })
  }
  return registry
}
