// Memory warmed before a timed run. On a virtual machine, memory the host does not back yet costs several times more
// to write the first time (4 GiB into /dev/shm: 6.8 s of kernel time on a fresh machine, 1.5 s right after the same
// write), and a guest that reports its free pages to the host gets cold memory back after a while. A run that writes
// gigabytes (files on tmpfs, buffers) would pay that on top of its own work, and whichever tool runs first would
// pay most of it (docs/benchmarks/swarm.md, "A fresh machine").
import { open, rm } from 'node:fs/promises'

/** Writes `bytes` to `file` in 64 MiB chunks, then deletes it; resolves with the seconds it took. */
export async function warmMemory(file: string, bytes: number): Promise<number> {
  const t0 = performance.now()
  const chunk = Buffer.alloc(64 * 1024 * 1024, 1)
  const fh = await open(file, 'w')
  try {
    for (let at = 0; at < bytes; at += chunk.length) await fh.write(chunk, 0, Math.min(chunk.length, bytes - at))
  } finally { await fh.close() }
  await rm(file, { force: true })
  return (performance.now() - t0) / 1000
}
