// How the cluster relay and its workers' transports reach each other. In `colony live serve` that is
// node:cluster IPC; the relay and the transport see only these two small interfaces, so the same code runs over
// any ordered message channel (the transport contract tests connect them in one process).
import cluster, { type Worker } from 'node:cluster'
import { LiveError } from '../errors.ts'
import type { TransportReply, TransportRequest } from '../wire/cluster-ipc.ts'

/** One worker as the primary sees it. */
export type WorkerPort = {
  readonly id: string
  /** Sends when the worker is still connected; a worker that is exiting is dropped when it exits. */
  send(msg: TransportReply): void
}

/** The primary's side: every worker's messages, their exits, and a way to reach each. */
export interface PrimaryChannel {
  /** Calls `listener` for every message from any worker; returns the unsubscriber. */
  onMessage(listener: (worker: WorkerPort, msg: unknown) => void): () => void
  /** Calls `listener` with the id of each worker that exits; returns the unsubscriber. */
  onExit(listener: (workerId: string) => void): () => void
  /** The worker with this id, while it runs. */
  worker(id: string): WorkerPort | undefined
}

/** A worker's side: its id, and messages to and from the primary. */
export interface WorkerChannel {
  readonly id: string
  send(msg: TransportRequest): void
  /** Calls `listener` for every message from the primary; returns the unsubscriber. */
  onMessage(listener: (msg: unknown) => void): () => void
}

function portOf(worker: Worker): WorkerPort {
  return {
    id: String(worker.id),
    send(msg) {
      if (!worker.isConnected()) return
      try { worker.send(msg) } catch { /* the worker is exiting; its 'exit' drops it from routing */ }
    },
  }
}

/** The primary's side over node:cluster. */
export function nodeClusterPrimary(): PrimaryChannel {
  return {
    onMessage(listener) {
      const on = (worker: Worker, msg: unknown): void => listener(portOf(worker), msg)
      cluster.on('message', on)
      return () => { cluster.off('message', on) }
    },
    onExit(listener) {
      const on = (worker: Worker): void => listener(String(worker.id))
      cluster.on('exit', on)
      return () => { cluster.off('exit', on) }
    },
    worker(id) {
      const w = cluster.workers?.[id]
      return w ? portOf(w) : undefined
    },
  }
}

/** A worker's side over node:cluster; refused (LIVE_CONFIG) outside a cluster worker. */
export function nodeClusterWorker(): WorkerChannel {
  if (!cluster.isWorker || !process.send) throw new LiveError('LIVE_CONFIG', 'ClusterWorkerTransport runs only in a cluster worker')
  return {
    id: String(cluster.worker?.id ?? process.pid),
    send(msg) { process.send?.(msg) },
    onMessage(listener) {
      process.on('message', listener)
      return () => { process.off('message', listener) }
    },
  }
}
