// Bounds the young generation of this process's main thread. V8 doubles it, up to 64 MB per semi-space, as long-lived
// objects survive its collections, and never shrinks it back during a busy run: on a long transfer that is over a
// hundred MB of RSS that buys no speed here. The heap is sized at start-up (--max-semi-space-size), so from inside the
// process the growth is stopped instead, once the new space reaches the cap. The setting is process-wide.
import v8 from 'node:v8'

/** Stops the young generation growing once it holds `maxMb` MB (both semi-spaces); returns a function to stop watching. */
export function capYoungGeneration(maxMb: number, everyMs = 250): () => void {
  const limit = maxMb * 1024 * 1024
  const check = (): void => {
    const size = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0
    if (size < limit) return
    v8.setFlagsFromString('--semi-space-growth-factor=1')
    clearInterval(timer)
  }
  const timer = setInterval(check, everyMs)
  timer.unref()
  check()
  return () => clearInterval(timer)
}
