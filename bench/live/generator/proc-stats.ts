// What the benchmark knows about the processes under test comes from /proc: CPU ticks, RSS and PSS summed over
// every process of a server (nginx master + workers, colony primary + workers), found by PID tree or by the
// socket listening on the target port.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs'

/** Linux USER_HZ; /proc/<pid>/stat counts CPU time in these ticks. */
const CLOCK_TICKS_PER_SECOND = 100
const PAGE_SIZE = 4096

export type ProcStat = { pid: number; ppid: number; cpuSeconds: number; rssBytes: number }

/** utime+stime and RSS of one process; undefined once it is gone. */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string
  try { text = readFileSync(`/proc/${pid}/stat`, 'utf8') } catch { return undefined }
  // The command name (field 2) may contain spaces and parentheses: fields are counted after the last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ')
  return {
    pid,
    ppid: Number(f[1]),
    cpuSeconds: (Number(f[11]) + Number(f[12])) / CLOCK_TICKS_PER_SECOND,
    rssBytes: Number(f[21]) * PAGE_SIZE,
  }
}

/** Proportional set size: shared pages (nchan's shared memory zone, a forked worker's heap) counted once. */
export function readPssBytes(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))
    return m ? Number(m[1]) * 1024 : 0
  } catch { return 0 }
}

function listPids(): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number)
}

/** The given processes and all their descendants (a server's workers are its children). */
export function withDescendants(roots: number[]): number[] {
  const children = new Map<number, number[]>()
  for (const pid of listPids()) {
    const s = readProcStat(pid)
    if (!s) continue
    const list = children.get(s.ppid)
    if (list) list.push(pid)
    else children.set(s.ppid, [pid])
  }
  const out = new Set<number>()
  const queue = [...roots]
  while (queue.length > 0) {
    const pid = queue.pop() as number
    if (out.has(pid)) continue
    out.add(pid)
    queue.push(...(children.get(pid) ?? []))
  }
  return [...out].filter((p) => readProcStat(p) !== undefined)
}

/** PIDs holding a socket that listens on `port` (any address), found through /proc/net/tcp{,6} inodes. */
export function findListeningPids(port: number): number[] {
  const inodes = new Set<string>()
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0')
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = ''
    try { text = readFileSync(file, 'utf8') } catch { continue }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/)
      // local_address is "ADDR:PORT"; state 0A is LISTEN; the inode is column 10.
      if (cols[1]?.endsWith(`:${hexPort}`) && cols[3] === '0A' && cols[9]) inodes.add(cols[9])
    }
  }
  if (inodes.size === 0) return []
  const pids: number[] = []
  for (const pid of listPids()) {
    let fds: string[]
    try { fds = readdirSync(`/proc/${pid}/fd`) } catch { continue }
    for (const fd of fds) {
      let link = ''
      try { link = readlinkSync(`/proc/${pid}/fd/${fd}`) } catch { continue }
      const m = /^socket:\[(\d+)\]$/.exec(link)
      if (m?.[1] && inodes.has(m[1])) { pids.push(pid); break }
    }
  }
  return pids
}

/** Summed over a set of processes at one instant. */
export type GroupSample = { at: number; cpuSeconds: number; rssBytes: number; processes: number }

export function sampleGroup(pids: number[]): GroupSample {
  let cpuSeconds = 0
  let rssBytes = 0
  let processes = 0
  for (const pid of pids) {
    const s = readProcStat(pid)
    if (!s) continue
    cpuSeconds += s.cpuSeconds
    rssBytes += s.rssBytes
    processes++
  }
  return { at: performance.now(), cpuSeconds, rssBytes, processes }
}

export function sumPss(pids: number[]): number {
  let total = 0
  for (const pid of pids) total += readPssBytes(pid)
  return total
}

/** CPU seconds all processes of the machine spent, from /proc/stat (to say how loaded the machine was). */
export function readMachineCpu(): { busySeconds: number; totalSeconds: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? ''
  const v = line.trim().split(/\s+/).slice(1).map(Number)
  const idle = (v[3] ?? 0) + (v[4] ?? 0)
  const total = v.reduce((a, b) => a + b, 0)
  return { busySeconds: (total - idle) / CLOCK_TICKS_PER_SECOND, totalSeconds: total / CLOCK_TICKS_PER_SECOND }
}
