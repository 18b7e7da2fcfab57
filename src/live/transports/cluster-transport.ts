// Embedded multi-process mode: the cluster primary is the dispatcher; workers (frontends) talk to it over IPC.
import cluster, { type Worker } from 'node:cluster'
import { LiveError } from '../errors.ts'
import { Sequencer, type SequencerOptions } from '../core/sequencer.ts'
import type { LiveEvent, LiveTransport, PublishInput, ReplayResult } from '../types.ts'

/** Worker → primary. Every request carries `rid`; the primary answers with the same `rid`. */
type ToPrimary =
  /** Publishes of one event-loop turn, batched into one IPC message. */
  | { live: 1; t: 'pubs'; items: { rid: number; topic: string; inputs: PublishInput[] }[] }
  | { live: 1; t: 'watch'; rid: number; topic: string }
  | { live: 1; t: 'unwatch'; topic: string }
  | { live: 1; t: 'counts'; counts: [string, number][] }
  | { live: 1; t: 'viewers'; rid: number; topic: string }
  | { live: 1; t: 'replay'; rid: number; topic: string; after: number }

/** Primary → worker. */
type ToWorker =
  /** Events for the worker's topics, and (for a worker that published) the answers to its 'pubs', in one message. */
  | { live: 1; t: 'ev'; events: LiveEvent[]; pubr?: PubAnswer[] }
  | { live: 1; t: 'res'; rid: number; ok: true; value: unknown }
  | { live: 1; t: 'res'; rid: number; ok: false; message: string }

/** The answer to one publish request of a 'pubs' batch: the id given to each input (null when dropped as a duplicate). */
type PubAnswer = { rid: number; ids: (number | null)[] }

function isLiveMessage(m: unknown): m is { live: 1; t: string } {
  return typeof m === 'object' && m !== null && (m as { live?: unknown }).live === 1
}

/**
 * Runs in the cluster primary: sequences publishes and forwards each batch only to the workers watching
 * the topic. Everything for one worker within one event-loop turn — events of every topic it watches and the
 * answers to its publishes — travels as one IPC message (each message costs a pipe write and a wake-up).
 */
export class ClusterRelay {
  readonly #seq: Sequencer
  readonly #outbox = new Map<Worker, { events: LiveEvent[]; pubr: PubAnswer[] | undefined }>()
  #scheduled = false
  readonly #onMessage = (worker: Worker, msg: unknown): void => { if (isLiveMessage(msg)) this.#handle(worker, msg as ToPrimary) }
  readonly #onExit = (worker: Worker): void => { this.#seq.dropNode(String(worker.id)); this.#outbox.delete(worker) }

  constructor(options: SequencerOptions = {}) {
    this.#seq = new Sequencer(options)
    cluster.on('message', this.#onMessage)
    cluster.on('exit', this.#onExit)
  }

  #reply(worker: Worker, rid: number, value: unknown): void {
    send(worker, { live: 1, t: 'res', rid, ok: true, value })
  }

  #handle(worker: Worker, msg: ToPrimary): void {
    const node = String(worker.id)
    switch (msg.t) {
      case 'pubs': {
        const answers: PubAnswer[] = []
        for (const item of msg.items) {
          const events = this.#seq.publish(item.topic, item.inputs)
          // Only ids travel back: the worker already has the payloads.
          const byOrigin = new Map(events.map((e) => [e.origin ?? '', e.id]))
          answers.push({ rid: item.rid, ids: item.inputs.length === events.length ? events.map((e) => e.id) : item.inputs.map((i) => byOrigin.get(i.origin ?? '') ?? null) })
          if (events.length > 0) this.#route(item.topic, events)
        }
        const box = this.#box(worker)
        if (box.pubr) box.pubr.push(...answers)
        else box.pubr = answers
        this.#schedule()
        return
      }
      case 'watch': this.#seq.watch(msg.topic, node); this.#reply(worker, msg.rid, true); return
      case 'unwatch': this.#seq.unwatch(msg.topic, node); return
      case 'counts': this.#seq.setCounts(node, msg.counts); return
      case 'viewers': this.#reply(worker, msg.rid, this.#seq.viewerCount(msg.topic)); return
      case 'replay': this.#reply(worker, msg.rid, this.#seq.replay(msg.topic, msg.after)); return
    }
  }

  #box(w: Worker): { events: LiveEvent[]; pubr: PubAnswer[] | undefined } {
    let box = this.#outbox.get(w)
    if (!box) { box = { events: [], pubr: undefined }; this.#outbox.set(w, box) }
    return box
  }

  #schedule(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    setImmediate(() => this.#flush())
  }

  #route(topic: string, events: LiveEvent[]): void {
    for (const id of this.#seq.watchers(topic)) {
      const w = cluster.workers?.[id]
      if (w) this.#box(w).events.push(...events)
    }
    this.#schedule()
  }

  #flush(): void {
    this.#scheduled = false
    for (const [w, box] of this.#outbox) send(w, box.pubr ? { live: 1, t: 'ev', events: box.events, pubr: box.pubr } : { live: 1, t: 'ev', events: box.events })
    this.#outbox.clear()
  }

  close(): void {
    cluster.off('message', this.#onMessage)
    cluster.off('exit', this.#onExit)
  }
}

function send(worker: Worker, msg: ToWorker): void {
  if (!worker.isConnected()) return
  try { worker.send(msg) } catch { /* the worker is exiting; its 'exit' drops it from routing */ }
}

/** Runs in a cluster worker: the LiveTransport whose dispatcher is the primary. */
export class ClusterWorkerTransport implements LiveTransport {
  readonly nodeId: string
  #rid = 0
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  #sink: ((events: LiveEvent[]) => void) | undefined
  #outbox: { rid: number; topic: string; inputs: PublishInput[] }[] = []
  readonly #onMessage = (msg: unknown): void => { if (isLiveMessage(msg)) this.#handle(msg as ToWorker) }

  constructor() {
    if (!cluster.isWorker || !process.send) throw new LiveError('LIVE_CONFIG', 'ClusterWorkerTransport runs only in a cluster worker')
    this.nodeId = String(cluster.worker?.id ?? process.pid)
  }

  #handle(msg: ToWorker): void {
    if (msg.t === 'ev') {
      // Deliver first: a publisher answered 202 may tell a viewer, who must then find the event already sent.
      if (msg.events.length > 0) this.#sink?.(msg.events)
      for (const item of msg.pubr ?? []) {
        const p = this.#pending.get(item.rid)
        this.#pending.delete(item.rid)
        p?.resolve(item.ids)
      }
      return
    }
    const p = this.#pending.get(msg.rid)
    if (!p) return
    this.#pending.delete(msg.rid)
    if (msg.ok) p.resolve(msg.value)
    else p.reject(new LiveError('LIVE_TRANSPORT', msg.message))
  }

  #post(msg: ToPrimary): void {
    process.send?.(msg)
  }

  #request<T>(build: (rid: number) => ToPrimary | undefined): Promise<T> {
    const rid = ++this.#rid
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(rid)
        reject(new LiveError('LIVE_TRANSPORT', 'cluster primary did not answer within 10s'))
      }, 10_000)
      this.#pending.set(rid, {
        resolve: (v) => { clearTimeout(timer); resolve(v as T) },
        reject: (e) => { clearTimeout(timer); reject(e) },
      })
      const msg = build(rid)
      if (msg) this.#post(msg)
    })
  }

  async start(sink: (events: LiveEvent[]) => void): Promise<void> {
    this.#sink = sink
    process.on('message', this.#onMessage)
  }

  async publish(topic: string, inputs: PublishInput[]): Promise<LiveEvent[]> {
    const now = Date.now()
    for (const i of inputs) i.ts ??= now
    const ids = await this.#request<(number | null)[]>((rid) => {
      this.#outbox.push({ rid, topic, inputs })
      if (this.#outbox.length === 1) setImmediate(() => this.#flushPublishes())
      return undefined
    })
    const events: LiveEvent[] = []
    inputs.forEach((input, k) => {
      const id = ids[k]
      if (id === null || id === undefined) return
      const ev: LiveEvent = { topic, id, type: input.type, data: input.data, ts: input.ts ?? now }
      if (input.origin !== undefined) ev.origin = input.origin
      events.push(ev)
    })
    return events
  }

  #flushPublishes(): void {
    const items = this.#outbox
    this.#outbox = []
    if (items.length > 0) this.#post({ live: 1, t: 'pubs', items })
  }

  async watch(topic: string): Promise<void> { await this.#request((rid) => ({ live: 1, t: 'watch', rid, topic })) }
  unwatch(topic: string): void { this.#post({ live: 1, t: 'unwatch', topic }) }
  reportViewers(counts: ReadonlyMap<string, number>): void { this.#post({ live: 1, t: 'counts', counts: [...counts] }) }
  viewerCount(topic: string): Promise<number> { return this.#request((rid) => ({ live: 1, t: 'viewers', rid, topic })) }
  replay(topic: string, afterId: number): Promise<ReplayResult> { return this.#request((rid) => ({ live: 1, t: 'replay', rid, topic, after: afterId })) }

  async close(): Promise<void> {
    process.off('message', this.#onMessage)
    for (const p of this.#pending.values()) p.reject(new LiveError('LIVE_SHUTTING_DOWN', 'transport closed'))
    this.#pending.clear()
  }
}
