// A log-linear latency histogram (≈3% resolution, 1 µs … 35 min) in a fixed Uint32Array: recording is one
// array increment, and the arrays of several generator processes merge by addition.

const LINEAR = 64
const SUB = 32
/** Number of buckets; values past the last bucket are clamped into it. */
export const HISTOGRAM_BUCKETS = LINEAR + 26 * SUB

export function bucketOf(valueUs: number): number {
  const v = valueUs <= 0 ? 0 : Math.floor(valueUs)
  if (v < LINEAR) return v
  const msb = 31 - Math.clz32(v > 0x7fffffff ? 0x7fffffff : v)
  const shift = msb - 5
  const mant = (v >>> shift) - SUB
  const idx = LINEAR + (shift - 1) * SUB + mant
  return idx < HISTOGRAM_BUCKETS ? idx : HISTOGRAM_BUCKETS - 1
}

/** The middle of a bucket's value range, in µs. */
export function bucketValue(idx: number): number {
  if (idx < LINEAR) return idx
  const shift = Math.floor((idx - LINEAR) / SUB) + 1
  const mant = ((idx - LINEAR) % SUB) + SUB
  return (mant << shift) + (1 << shift) / 2
}

export function createHistogram(): Uint32Array {
  return new Uint32Array(HISTOGRAM_BUCKETS)
}

export function recordValue(h: Uint32Array, valueUs: number): void {
  const i = bucketOf(valueUs)
  h[i] = (h[i] ?? 0) + 1
}

export function mergeInto(target: Uint32Array, source: ArrayLike<number>): void {
  for (let i = 0; i < target.length && i < source.length; i++) target[i] = (target[i] ?? 0) + (source[i] ?? 0)
}

export function countOf(h: ArrayLike<number>): number {
  let n = 0
  for (let i = 0; i < h.length; i++) n += h[i] ?? 0
  return n
}

/** The value (µs) at quantile q (0…1), or NaN for an empty histogram. */
export function quantile(h: ArrayLike<number>, q: number): number {
  const total = countOf(h)
  if (total === 0) return NaN
  const rank = Math.max(1, Math.ceil(q * total))
  let seen = 0
  for (let i = 0; i < h.length; i++) {
    seen += h[i] ?? 0
    if (seen >= rank) return bucketValue(i)
  }
  return bucketValue(h.length - 1)
}

/** Largest recorded bucket's value (µs), NaN when empty. */
export function maxValue(h: ArrayLike<number>): number {
  for (let i = h.length - 1; i >= 0; i--) if ((h[i] ?? 0) > 0) return bucketValue(i)
  return NaN
}
