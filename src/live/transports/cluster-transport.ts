// Embedded multi-process mode: the cluster primary is the dispatcher; workers (frontends) talk to it over IPC.
import { LIVE_DEFAULTS } from '../defaults.ts'
import { LiveError } from '../errors.ts'
import { Sequencer, type SequencerOptions } from '../core/sequencer.ts'
import type { LiveEvent, LiveTransport, PublishInput, ReplayResult } from '../types.ts'
import { clusterMessageOf, type PublishAnswer, type PublishRequest, type TransportReply, type TransportRequest } from '../wire/cluster-ipc.ts'
import { nodeClusterPrimary, nodeClusterWorker, type PrimaryChannel, type WorkerChannel, type WorkerPort } from './cluster-channel.ts'

/** What the relay sends one worker at the end of this event-loop turn. */
type Outbox = { worker: WorkerPort; events: LiveEvent[]; published: PublishAnswer[] | undefined }

/**
 * Runs in the cluster primary: sequences publishes and forwards each batch only to the workers watching
 * the topic. Everything for one worker within one event-loop turn — events of every topic it watches and the
 * answers to its publishes — travels as one IPC message (each message costs a pipe write and a wake-up).
 */
export class ClusterRelay {
  readonly #seq: Sequencer
  readonly #channel: PrimaryChannel
  /** By worker id. */
  readonly #outbox = new Map<string, Outbox>()
  #scheduled = false
  readonly #unsubscribe: (() => void)[]

  /** `channel` reaches the workers. @defaultValue node:cluster IPC (this process must be the primary) */
  constructor(options: SequencerOptions = {}, channel: PrimaryChannel = nodeClusterPrimary()) {
    this.#seq = new Sequencer(options)
    this.#channel = channel
    this.#unsubscribe = [
      channel.onMessage((worker, msg) => {
        const request = clusterMessageOf(msg, 'publish', 'watch', 'unwatch', 'viewer-counts', 'viewer-count', 'replay')
        if (request) this.#handle(worker, request)
      }),
      channel.onExit((id) => { this.#seq.dropNode(id); this.#outbox.delete(id) }),
    ]
  }

  #reply(worker: WorkerPort, requestId: number, value: unknown): void {
    worker.send({ live: 1, kind: 'answer', requestId, ok: true, value })
  }

  #handle(worker: WorkerPort, msg: TransportRequest): void {
    const node = worker.id
    switch (msg.kind) {
      case 'publish': {
        const answers: PublishAnswer[] = []
        for (const request of msg.requests) {
          const events = this.#seq.publish(request.topic, request.inputs)
          // Only ids travel back: the worker already has the payloads.
          const byOrigin = new Map(events.map((e) => [e.origin ?? '', e.id]))
          const ids = request.inputs.length === events.length ? events.map((e) => e.id) : request.inputs.map((i) => byOrigin.get(i.origin ?? '') ?? null)
          answers.push({ requestId: request.requestId, ids })
          if (events.length > 0) this.#route(request.topic, events)
        }
        const box = this.#box(worker)
        if (box.published) box.published.push(...answers)
        else box.published = answers
        this.#schedule()
        return
      }
      case 'watch': this.#seq.watch(msg.topic, node); this.#reply(worker, msg.requestId, true); return
      case 'unwatch': this.#seq.unwatch(msg.topic, node); return
      case 'viewer-counts': this.#seq.setCounts(node, msg.counts); return
      case 'viewer-count': this.#reply(worker, msg.requestId, this.#seq.viewerCount(msg.topic)); return
      case 'replay': this.#reply(worker, msg.requestId, this.#seq.replay(msg.topic, msg.afterId)); return
    }
  }

  #box(worker: WorkerPort): Outbox {
    let box = this.#outbox.get(worker.id)
    if (!box) { box = { worker, events: [], published: undefined }; this.#outbox.set(worker.id, box) }
    return box
  }

  #schedule(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    setImmediate(() => this.#flush())
  }

  #route(topic: string, events: LiveEvent[]): void {
    for (const id of this.#seq.watchers(topic)) {
      const worker = this.#outbox.get(id)?.worker ?? this.#channel.worker(id)
      if (worker) this.#box(worker).events.push(...events)
    }
    this.#schedule()
  }

  #flush(): void {
    this.#scheduled = false
    for (const box of this.#outbox.values()) {
      box.worker.send(box.published ? { live: 1, kind: 'events', events: box.events, published: box.published } : { live: 1, kind: 'events', events: box.events })
    }
    this.#outbox.clear()
  }

  close(): void {
    for (const unsubscribe of this.#unsubscribe) unsubscribe()
  }
}

/** Runs in a cluster worker: the LiveTransport whose dispatcher is the primary. */
export class ClusterWorkerTransport implements LiveTransport {
  readonly nodeId: string
  readonly #channel: WorkerChannel
  #unsubscribe: (() => void) | undefined
  #requestId = 0
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  #sink: ((events: LiveEvent[]) => void) | undefined
  #outbox: PublishRequest[] = []

  /** `channel` reaches the primary. @defaultValue node:cluster IPC (refused outside a cluster worker) */
  constructor(channel: WorkerChannel = nodeClusterWorker()) {
    this.#channel = channel
    this.nodeId = channel.id
  }

  #handle(msg: TransportReply): void {
    if (msg.kind === 'events') {
      // Deliver first: a publisher answered 202 may tell a viewer, who must then find the event already sent.
      if (msg.events.length > 0) this.#sink?.(msg.events)
      for (const answer of msg.published ?? []) {
        const p = this.#pending.get(answer.requestId)
        this.#pending.delete(answer.requestId)
        p?.resolve(answer.ids)
      }
      return
    }
    const p = this.#pending.get(msg.requestId)
    if (!p) return
    this.#pending.delete(msg.requestId)
    if (msg.ok) p.resolve(msg.value)
    else p.reject(new LiveError('LIVE_TRANSPORT', msg.message))
  }

  #post(msg: TransportRequest): void {
    this.#channel.send(msg)
  }

  #request<T>(build: (requestId: number) => TransportRequest | undefined): Promise<T> {
    const requestId = ++this.#requestId
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(requestId)
        reject(new LiveError('LIVE_TRANSPORT', `cluster primary did not answer within ${LIVE_DEFAULTS.cluster.requestTimeoutMs} ms`))
      }, LIVE_DEFAULTS.cluster.requestTimeoutMs)
      this.#pending.set(requestId, {
        resolve: (v) => { clearTimeout(timer); resolve(v as T) },
        reject: (e) => { clearTimeout(timer); reject(e) },
      })
      const msg = build(requestId)
      if (msg) this.#post(msg)
    })
  }

  async start(sink: (events: LiveEvent[]) => void): Promise<void> {
    this.#sink = sink
    this.#unsubscribe ??= this.#channel.onMessage((msg) => {
      const reply = clusterMessageOf(msg, 'events', 'answer')
      if (reply) this.#handle(reply)
    })
  }

  async publish(topic: string, inputs: PublishInput[]): Promise<LiveEvent[]> {
    const now = Date.now()
    for (const i of inputs) i.ts ??= now
    const ids = await this.#request<(number | null)[]>((requestId) => {
      this.#outbox.push({ requestId, topic, inputs })
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
    const requests = this.#outbox
    this.#outbox = []
    if (requests.length > 0) this.#post({ live: 1, kind: 'publish', requests })
  }

  async watch(topic: string): Promise<void> { await this.#request((requestId) => ({ live: 1, kind: 'watch', requestId, topic })) }
  unwatch(topic: string): void { this.#post({ live: 1, kind: 'unwatch', topic }) }
  reportViewers(counts: ReadonlyMap<string, number>): void { this.#post({ live: 1, kind: 'viewer-counts', counts: [...counts] }) }
  viewerCount(topic: string): Promise<number> { return this.#request((requestId) => ({ live: 1, kind: 'viewer-count', requestId, topic })) }
  replay(topic: string, afterId: number): Promise<ReplayResult> { return this.#request((requestId) => ({ live: 1, kind: 'replay', requestId, topic, afterId })) }

  async close(): Promise<void> {
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
    for (const p of this.#pending.values()) p.reject(new LiveError('LIVE_SHUTTING_DOWN', 'transport closed'))
    this.#pending.clear()
  }
}
