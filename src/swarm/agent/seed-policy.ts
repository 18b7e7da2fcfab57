// When an agent stops seeding a completed object: after the seed time, or once it uploaded ratio × its size.

export type SeedStopOptions = {
  /** How long to seed after completion, ms. */
  seedTimeMs: number
  /** Stop once uploaded ≥ ratio × length; 0 = no ratio limit. */
  seedRatio: number
  /** The object's size in bytes. */
  length: number
  /** Bytes uploaded so far (read at each check). */
  uploaded: () => number
  /** False once the download left the seeding state some other way (cancelled, failed): the checks end. */
  seeding: () => boolean
  /** Called once, when time or ratio is up. */
  onStop: (why: { uploaded: number; timeUp: boolean; ratioMet: boolean }) => void
}

/** Checks at most once a second (sooner for a seed time below that); returns a function that cancels the checks. */
export function scheduleSeedStop(o: SeedStopOptions): () => void {
  const started = Date.now()
  let timer: NodeJS.Timeout | undefined
  const check = (): void => {
    if (!o.seeding()) return
    const uploaded = o.uploaded()
    const timeUp = Date.now() - started >= o.seedTimeMs
    const ratioMet = o.seedRatio > 0 && uploaded >= o.seedRatio * o.length
    if (timeUp || ratioMet) { o.onStop({ uploaded, timeUp, ratioMet }); return }
    timer = setTimeout(check, Math.min(1000, Math.max(10, o.seedTimeMs)))
    timer.unref()
  }
  check()
  return () => clearTimeout(timer)
}
