// The cluster relay and worker transports connected in one process: each message is copied through JSON (as
// node:cluster IPC serialises it) and delivered on a later turn, in send order, like a pipe.
import type { PrimaryChannel, WorkerChannel, WorkerPort } from '../../../src/live/transports/cluster-channel.ts'

type Listener<T extends unknown[]> = (...args: T) => void

export type MemoryCluster = {
  primary: PrimaryChannel
  /** A new worker's channel (ids 1, 2, …). */
  worker(): WorkerChannel
  /** The worker leaves, as if its process exited. */
  exit(id: string): void
}

function later(fn: () => void): void {
  setImmediate(fn)
}

function copy(msg: unknown): unknown {
  return JSON.parse(JSON.stringify(msg)) as unknown
}

export function memoryCluster(): MemoryCluster {
  const fromWorkers = new Set<Listener<[WorkerPort, unknown]>>()
  const exits = new Set<Listener<[string]>>()
  const workers = new Map<string, { port: WorkerPort; listeners: Set<Listener<[unknown]>> }>()
  let lastId = 0
  const primary: PrimaryChannel = {
    onMessage(listener) { fromWorkers.add(listener); return () => { fromWorkers.delete(listener) } },
    onExit(listener) { exits.add(listener); return () => { exits.delete(listener) } },
    worker(id) { return workers.get(id)?.port },
  }
  return {
    primary,
    worker() {
      const id = String(++lastId)
      const listeners = new Set<Listener<[unknown]>>()
      const port: WorkerPort = {
        id,
        send(msg) {
          const text = copy(msg)
          later(() => { if (workers.has(id)) for (const l of listeners) l(text) })
        },
      }
      workers.set(id, { port, listeners })
      return {
        id,
        send(msg) {
          const text = copy(msg)
          later(() => { if (workers.has(id)) for (const l of fromWorkers) l(port, text) })
        },
        onMessage(listener) { listeners.add(listener); return () => { listeners.delete(listener) } },
      }
    },
    exit(id) {
      workers.delete(id)
      for (const l of exits) l(id)
    },
  }
}
