// /metrics of a multi-worker service: whichever worker a scrape lands on answers for all of them
// (the primary gathers every worker's series and prom-client's AggregatorRegistry sums them).
import cluster, { type Worker } from 'node:cluster'
import { AggregatorRegistry } from 'prom-client'
import { LIVE_DEFAULTS } from '../defaults.ts'
import type { Registry } from '../../shared/metrics.ts'
import { clusterMessageOf, type MetricsMessage } from '../wire/cluster-ipc.ts'

/** Runs in the primary; returns a stopper. */
export function relayClusterMetrics(timeoutMs: number = LIVE_DEFAULTS.cluster.metricsTimeoutMs): () => void {
  let lastRound = 0
  const rounds = new Map<number, { need: number; parts: object[][]; requester: Worker; requestId: number; timer: NodeJS.Timeout }>()
  const finish = (roundId: number): void => {
    const r = rounds.get(roundId)
    if (!r) return
    rounds.delete(roundId)
    clearTimeout(r.timer)
    AggregatorRegistry.aggregate(r.parts).metrics()
      .then((text) => { if (r.requester.isConnected()) r.requester.send({ live: 1, kind: 'metrics-answer', requestId: r.requestId, text } satisfies MetricsMessage) })
      .catch(() => undefined)
  }
  const onMessage = (worker: Worker, raw: unknown): void => {
    const m = clusterMessageOf(raw, 'metrics-request', 'metrics-part')
    if (m?.kind === 'metrics-request') {
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && w.isConnected())
      const roundId = ++lastRound
      rounds.set(roundId, { need: workers.length, parts: [], requester: worker, requestId: m.requestId, timer: setTimeout(() => finish(roundId), timeoutMs) })
      for (const w of workers) w.send({ live: 1, kind: 'metrics-collect', roundId } satisfies MetricsMessage)
    } else if (m?.kind === 'metrics-part') {
      const r = rounds.get(m.roundId)
      if (!r) return
      r.parts.push(m.metrics)
      if (r.parts.length >= r.need) finish(m.roundId)
    }
  }
  cluster.on('message', onMessage)
  return () => { cluster.off('message', onMessage); for (const roundId of [...rounds.keys()]) finish(roundId) }
}

/** Runs in a worker: answers the primary's collection rounds and renders the service-wide text. */
export function joinClusterMetrics(registry: () => Registry | undefined): () => Promise<string> {
  let lastRequest = 0
  const waiting = new Map<number, (text: string) => void>()
  process.on('message', (raw: unknown) => {
    const m = clusterMessageOf(raw, 'metrics-collect', 'metrics-answer')
    if (m?.kind === 'metrics-collect') {
      const r = registry()
      if (!r) return
      r.getMetricsAsJSON()
        .then((metrics) => process.send?.({ live: 1, kind: 'metrics-part', roundId: m.roundId, metrics } satisfies MetricsMessage))
        .catch(() => undefined)
    } else if (m?.kind === 'metrics-answer') {
      waiting.get(m.requestId)?.(m.text)
      waiting.delete(m.requestId)
    }
  })
  return async () => {
    const id = ++lastRequest
    const local = registry()
    return new Promise<string>((resolve) => {
      // Without an answer (primary busy or gone) the worker's own series are better than nothing.
      const timer = setTimeout(() => { waiting.delete(id); void (local?.metrics() ?? Promise.resolve('')).then(resolve) }, LIVE_DEFAULTS.cluster.metricsFallbackMs)
      waiting.set(id, (text) => { clearTimeout(timer); resolve(text) })
      process.send?.({ live: 1, kind: 'metrics-request', requestId: id } satisfies MetricsMessage)
    })
  }
}

