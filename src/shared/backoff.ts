export type BackoffOptions = {
  /** First delay. @defaultValue 200 */
  baseMs?: number
  /** Ceiling for any one delay. @defaultValue 30_000 */
  maxMs?: number
  /** Source of randomness in [0,1), replaceable in tests. @defaultValue Math.random */
  random?: () => number
}

/**
 * "Full jitter" exponential backoff (AWS architecture blog): a random delay in [0, min(max, base·2^attempt)].
 * Spreading retries evenly is what stops a fleet of copiers from hammering a recovering origin in lockstep.
 */
export function computeBackoff(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? 200
  const max = options.maxMs ?? 30_000
  const ceiling = Math.min(max, base * 2 ** Math.max(0, attempt))
  return Math.floor((options.random ?? Math.random)() * ceiling)
}

/** Retry-After is either delta-seconds or an HTTP date; returns ms to wait, or undefined when absent/garbled. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined
  const secs = Number(value)
  if (Number.isFinite(secs) && secs >= 0) return secs * 1000
  const when = Date.parse(value)
  return Number.isNaN(when) ? undefined : Math.max(0, when - now)
}

/** A sleep that an AbortSignal cuts short (rejecting with the signal's reason). */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(signal.reason as Error); return }
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    const onAbort = (): void => { clearTimeout(timer); reject(signal?.reason as Error) }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
