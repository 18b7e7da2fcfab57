// Buffers for bodies read whole (a PutObject's body), reused from one file to the next: a fresh buffer per file is
// fresh memory the kernel faults in page by page and the garbage collector later frees, which costs more CPU than
// copying the bytes into it. Buffers come in power-of-two size classes from 64 KiB; a thread keeps at most
// MAX_IDLE_BYTES of them idle. A buffer goes back only once nothing can still read it (the upload succeeded).

const MIN_CLASS = 64 * 1024
const MAX_IDLE_BYTES = 32 * 1024 * 1024

const idle = new Map<number, Buffer[]>()
let idleBytes = 0

function sizeClass(size: number): number {
  let c = MIN_CLASS
  while (c < size) c *= 2
  return c
}

/** A buffer of at least `size` bytes (its content is whatever was there before). */
export function takeBodyBuffer(size: number): Buffer {
  const c = sizeClass(size)
  const slab = idle.get(c)?.pop()
  if (!slab) return Buffer.allocUnsafeSlow(c)
  idleBytes -= c
  return slab
}

/** Hands a buffer from takeBodyBuffer back for reuse; nothing may read or write it afterwards. */
export function giveBodyBuffer(slab: Buffer): void {
  const c = slab.length
  if (c < MIN_CLASS || (c & (c - 1)) !== 0 || idleBytes + c > MAX_IDLE_BYTES) return
  let list = idle.get(c)
  if (!list) idle.set(c, (list = []))
  list.push(slab)
  idleBytes += c
}
