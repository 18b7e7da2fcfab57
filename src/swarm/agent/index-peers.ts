// One download's peers through the index: this agent's BitTorrent address registered for the object, and the
// addresses other agents registered, handed to the download's torrents — how agents find each other when no
// tracker answers.
import type { IndexPeer } from '../index-store/swarm-index.ts'
import type { DownloadContext } from './download-types.ts'

export class IndexPeers {
  readonly #ctx: DownloadContext
  readonly #known = new Map<string, IndexPeer>()
  readonly #stop = new AbortController()

  constructor(ctx: DownloadContext) { this.#ctx = ctx }

  /** Every peer heard of so far. */
  get all(): IndexPeer[] { return [...this.#known.values()] }

  /**
   * Registers this agent for `key` and calls `onPeer` for each other agent registered, until stop(). Best effort:
   * an index that cannot watch costs only this route.
   */
  async start(key: string, id: string, onPeer: (peer: IndexPeer) => void): Promise<void> {
    const { index, advertise, agentId, log } = this.#ctx
    if (!advertise) return
    void index.registerPeer(key, agentId, advertise, this.#stop.signal)
    await index.watchPeers(key, (peer) => {
      if (peer.peerId === advertise.peerId || this.#known.get(peer.address)?.peerId === peer.peerId) return
      this.#known.set(peer.address, peer)
      onPeer(peer)
    }, this.#stop.signal).catch((err: unknown) => log.debug({ id, err: String(err) }, 'cannot watch the index for peers'))
  }

  /** Ends the registration and the watch. */
  stop(): void { this.#stop.abort() }
}
