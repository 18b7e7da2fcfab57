// CPU time of processes from /proc (Linux): what each swarm spent, whoever its parent is.
import { readdirSync, readFileSync } from 'node:fs'

const TICKS_PER_SECOND = 100 // sysconf(_SC_CLK_TCK) is 100 on every Linux this bench targets

/** CPU seconds of a process in user space and in the kernel (its socket and file syscalls). */
export type CpuTimes = { user: number; system: number }

/** utime and stime of a live process in seconds; undefined once it has exited. */
export function readCpuTimes(pid: number): CpuTimes | undefined {
  let text: string
  try { text = readFileSync(`/proc/${pid}/stat`, 'utf8') } catch { return undefined }
  // The command name (field 2) may contain spaces and parentheses: split after its closing one.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  return { user: Number(fields[11]) / TICKS_PER_SECOND, system: Number(fields[12]) / TICKS_PER_SECOND }
}

/** Read and write syscalls (every read, recv, pread…; every write, send, pwrite…) of a live process so far, from /proc/PID/io. */
export type IoCalls = { reads: number; writes: number }

export function readIoCalls(pid: number): IoCalls | undefined {
  let text: string
  try { text = readFileSync(`/proc/${pid}/io`, 'utf8') } catch { return undefined }
  const field = (name: string): number => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(text)?.[1] ?? NaN)
  return { reads: field('syscr'), writes: field('syscw') }
}

/** utime + stime of a live process in seconds; undefined once it has exited. */
export function readCpuSeconds(pid: number): number | undefined {
  const t = readCpuTimes(pid)
  return t && t.user + t.system
}

/** The whole machine's CPU seconds so far by kind (/proc/stat): user (+nice), kernel, and steal (the hypervisor kept the CPUs). */
export function readMachineCpu(): { user: number; system: number; steal: number } {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number)
  return { user: ((f[0] ?? 0) + (f[1] ?? 0)) / TICKS_PER_SECOND, system: ((f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0)) / TICKS_PER_SECOND, steal: (f[7] ?? 0) / TICKS_PER_SECOND }
}

/** Per process, a first and a latest reading of some counters; `since()` sums latest − first over the processes. */
class Readings<T extends Record<string, number>> {
  readonly #first = new Map<number, T>()
  readonly #last = new Map<number, T>()
  readonly #read: (pid: number) => T | undefined
  readonly #zero: T

  constructor(read: (pid: number) => T | undefined, zero: T) {
    this.#read = read
    this.#zero = zero
  }

  mark(pid: number): void {
    const r = this.#read(pid)
    if (r === undefined) return
    this.#first.set(pid, r)
    this.#last.set(pid, r)
  }

  /** A process not marked is counted from zero. */
  sample(pid: number): void {
    const r = this.#read(pid)
    if (r === undefined) return
    if (!this.#first.has(pid)) this.#first.set(pid, this.#zero)
    this.#last.set(pid, r)
  }

  since(): T {
    const sum: Record<string, number> = { ...this.#zero }
    for (const [pid, last] of this.#last) {
      const first = this.#first.get(pid) ?? this.#zero
      for (const k of Object.keys(sum)) sum[k] = (sum[k] ?? 0) + (last[k] ?? 0) - (first[k] ?? 0)
    }
    return sum as T
  }
}

/**
 * Accumulates the CPU (and the read and write syscalls) of a set of processes over a window: `mark()` records
 * where each one stood, `sample()` refreshes the last reading (call it before a process exits or is stopped),
 * `total()` sums what each spent since its mark.
 */
export class CpuMeter {
  readonly #cpu = new Readings<CpuTimes>(readCpuTimes, { user: 0, system: 0 })
  readonly #io = new Readings<IoCalls>(readIoCalls, { reads: 0, writes: 0 })

  mark(pids: Iterable<number>): void {
    for (const pid of pids) { this.#cpu.mark(pid); this.#io.mark(pid) }
  }

  /** New processes are counted from zero (their start-up is part of the work). */
  sample(pids: Iterable<number>): void {
    for (const pid of pids) { this.#cpu.sample(pid); this.#io.sample(pid) }
  }

  /** Read and write syscalls since each process's mark. */
  ioCalls(): IoCalls {
    return this.#io.since()
  }

  /** CPU seconds spent since each process's mark, in user space and in the kernel. */
  split(): CpuTimes {
    return this.#cpu.since()
  }

  total(): number {
    const s = this.split()
    return s.user + s.system
  }
}

/**
 * Waits until `pids` together use less than `cpuPerSecond` CPU-seconds per second (measured over 500 ms), or
 * `maxMs` passed; resolves with the milliseconds waited. Agents started from the TypeScript sources strip types
 * with Node's WebAssembly stripper, and V8 keeps compiling it with its optimising tier on background threads for
 * seconds after start-up: 17 agents started at once on 2 cores still did so when the downloads began.
 */
export async function untilQuiet(pids: readonly number[], o: { cpuPerSecond: number; maxMs: number }): Promise<number> {
  const t0 = performance.now()
  const sum = (): number => pids.reduce((a, p) => a + (readCpuSeconds(p) ?? 0), 0)
  for (let before = sum(); performance.now() - t0 < o.maxMs;) {
    await new Promise((resolve) => setTimeout(resolve, 500))
    const now = sum()
    if (now - before < o.cpuPerSecond / 2) break
    before = now
  }
  return Math.round(performance.now() - t0)
}

/** The pids and every live descendant (an agent's aria2c child does the agent's BitTorrent work). */
export function withDescendants(pids: Iterable<number>): number[] {
  const children = new Map<number, number[]>()
  let entries: string[] = []
  try { entries = readdirSync('/proc') } catch { return [...pids] }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue
    let text: string
    try { text = readFileSync(`/proc/${e}/stat`, 'utf8') } catch { continue }
    const ppid = Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1])
    const list = children.get(ppid) ?? []
    list.push(Number(e))
    children.set(ppid, list)
  }
  const out: number[] = []
  const walk = (pid: number): void => { out.push(pid); for (const c of children.get(pid) ?? []) walk(c) }
  for (const p of pids) walk(p)
  return out
}

/** utime + stime of a process and its descendants (nginx's master and its workers) in seconds, from /proc. */
export function treeCpuSeconds(pid: number): number {
  return withDescendants([pid]).reduce((sum, p) => sum + (readCpuSeconds(p) ?? 0), 0)
}
