// A seeded generator for what must replay: sample libraries, fault schedules, fuzz and chaos tests.

/** mulberry32: a tiny seeded PRNG returning numbers in [0, 1) — for sizes, filler bytes and test schedules, not secrets. */
export function createRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
