// /metrics of a multi-worker service: whichever worker a scrape lands on answers for all of them
// (the primary gathers every worker's series and prom-client's AggregatorRegistry sums them).
import cluster, { type Worker } from 'node:cluster'
import { AggregatorRegistry } from 'prom-client'
import type { Registry } from '../../shared/metrics.ts'

type MetricsMessage =
  | { live: 1; t: 'metrics?'; rid: number }
  | { live: 1; t: 'metrics-collect'; mid: number }
  | { live: 1; t: 'metrics-part'; mid: number; json: object[] }
  | { live: 1; t: 'metrics!'; rid: number; text: string }

function isMetricsMessage(m: unknown): m is MetricsMessage {
  const t = (m as { live?: unknown; t?: unknown } | null)
  return t?.live === 1 && typeof t.t === 'string' && t.t.startsWith('metrics')
}

/** Runs in the primary; returns a stopper. */
export function relayClusterMetrics(timeoutMs = 2_000): () => void {
  let seq = 0
  const rounds = new Map<number, { need: number; parts: object[][]; requester: Worker; rid: number; timer: NodeJS.Timeout }>()
  const finish = (mid: number): void => {
    const r = rounds.get(mid)
    if (!r) return
    rounds.delete(mid)
    clearTimeout(r.timer)
    AggregatorRegistry.aggregate(r.parts).metrics()
      .then((text) => { if (r.requester.isConnected()) r.requester.send({ live: 1, t: 'metrics!', rid: r.rid, text }) })
      .catch(() => undefined)
  }
  const onMessage = (worker: Worker, m: unknown): void => {
    if (!isMetricsMessage(m)) return
    if (m.t === 'metrics?') {
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && w.isConnected())
      const mid = ++seq
      rounds.set(mid, { need: workers.length, parts: [], requester: worker, rid: m.rid, timer: setTimeout(() => finish(mid), timeoutMs) })
      for (const w of workers) w.send({ live: 1, t: 'metrics-collect', mid })
    } else if (m.t === 'metrics-part') {
      const r = rounds.get(m.mid)
      if (!r) return
      r.parts.push(m.json)
      if (r.parts.length >= r.need) finish(m.mid)
    }
  }
  cluster.on('message', onMessage)
  return () => { cluster.off('message', onMessage); for (const mid of [...rounds.keys()]) finish(mid) }
}

/** Runs in a worker: answers the primary's collection rounds and renders the service-wide text. */
export function joinClusterMetrics(registry: () => Registry | undefined): () => Promise<string> {
  let rid = 0
  const waiting = new Map<number, (text: string) => void>()
  process.on('message', (m: unknown) => {
    if (!isMetricsMessage(m)) return
    if (m.t === 'metrics-collect') {
      const r = registry()
      if (!r) return
      r.getMetricsAsJSON()
        .then((json) => process.send?.({ live: 1, t: 'metrics-part', mid: m.mid, json }))
        .catch(() => undefined)
    } else if (m.t === 'metrics!') {
      waiting.get(m.rid)?.(m.text)
      waiting.delete(m.rid)
    }
  })
  return async () => {
    const id = ++rid
    const local = registry()
    return new Promise<string>((resolve) => {
      // Without an answer (primary busy or gone) the worker's own series are better than nothing.
      const timer = setTimeout(() => { waiting.delete(id); void (local?.metrics() ?? Promise.resolve('')).then(resolve) }, 3_000)
      waiting.set(id, (text) => { clearTimeout(timer); resolve(text) })
      process.send?.({ live: 1, t: 'metrics?', rid: id })
    })
  }
}
