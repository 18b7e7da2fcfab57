import { Sequencer, type SequencerOptions } from '../core/sequencer.ts'
import type { LiveEvent, LiveTransport, PublishInput, ReplayResult } from '../types.ts'

/** The whole dispatcher in one process: no Redis, no other nodes. */
export class LocalTransport implements LiveTransport {
  readonly nodeId = 'local'
  readonly #seq: Sequencer
  #sink: ((events: LiveEvent[]) => void) | undefined

  constructor(options: SequencerOptions = {}) {
    this.#seq = new Sequencer(options)
  }

  async start(sink: (events: LiveEvent[]) => void): Promise<void> { this.#sink = sink }

  async publish(topic: string, inputs: PublishInput[]): Promise<LiveEvent[]> {
    const events = this.#seq.publish(topic, inputs)
    if (events.length > 0 && this.#seq.watchers(topic).has(this.nodeId)) this.#sink?.(events)
    return events
  }

  async watch(topic: string): Promise<void> { this.#seq.watch(topic, this.nodeId) }
  unwatch(topic: string): void { this.#seq.unwatch(topic, this.nodeId) }
  reportViewers(counts: ReadonlyMap<string, number>): void { this.#seq.setCounts(this.nodeId, counts) }
  async viewerCount(topic: string): Promise<number> { return this.#seq.viewerCount(topic) }
  async replay(topic: string, afterId: number): Promise<ReplayResult> { return this.#seq.replay(topic, afterId) }
  async close(): Promise<void> { this.#sink = undefined }
}
