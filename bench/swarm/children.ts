// Every process the bench starts, so that an interrupted bench (SIGINT/SIGTERM) leaves nothing behind.
import type { ChildProcess } from 'node:child_process'

const live = new Set<ChildProcess>()

export function track<T extends ChildProcess>(proc: T): T {
  live.add(proc)
  proc.once('exit', () => live.delete(proc))
  return proc
}

/** SIGKILLs whatever is still running (last resort on interruption; normal paths stop their own). */
export function killAll(): void {
  for (const p of live) p.kill('SIGKILL')
}
