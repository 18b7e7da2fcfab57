// How busy this thread's event loop has been lately: the share of the last window it spent running code (sync file
// writes included) rather than waiting for I/O. The adaptive limit reads it when the copies run on this thread.
import { performance, type EventLoopUtilization } from 'node:perf_hooks'

/** Samples the event loop's utilisation every `windowMs`; `share()` is the last window's (0 before the first). */
export function busyShare(windowMs: number): { share: () => number; stop: () => void } {
  let last: EventLoopUtilization = performance.eventLoopUtilization()
  let share = 0
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization()
    share = performance.eventLoopUtilization(now, last).utilization
    last = now
  }, windowMs)
  timer.unref()
  return { share: () => share, stop: () => clearInterval(timer) }
}
