// Summarises a V8 .cpuprofile: self time per function (the "top frames" view of DevTools' Bottom-Up tab).
import { readFile, readdir } from 'node:fs/promises'
import path from 'node:path'

type ProfileNode = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }
type CpuProfile = { nodes: ProfileNode[]; startTime: number; endTime: number; samples?: number[]; timeDeltas?: number[] }

export type TopFrame = { frame: string; selfMs: number; share: number }

/** Which samples count: from the first whose stack holds a function named like `from`; `(idle)` left out with `busyOnly`. */
export type ProfileWindow = { from?: RegExp; busyOnly?: boolean }

/** Top frames by self time across the .cpuprofile files in `dir` (all, or those `only` accepts), within `window`. */
export async function summariseProfiles(dir: string, top = 15, only: (file: string) => boolean = () => true, window: ProfileWindow = {}): Promise<{ totalMs: number; frames: TopFrame[] }> {
  const self = new Map<string, number>()
  let totalMs = 0
  for (const name of (await readdir(dir)).filter((n) => n.endsWith('.cpuprofile') && only(n))) {
    const prof = JSON.parse(await readFile(path.join(dir, name), 'utf8')) as CpuProfile
    const byId = new Map(prof.nodes.map((n) => [n.id, n]))
    const samples = prof.samples ?? []
    const deltas = prof.timeDeltas ?? []
    let started = !window.from
    const parentOf = started ? undefined : parents(prof.nodes)
    for (let i = 0; i < samples.length; i++) {
      const node = byId.get(samples[i] ?? -1)
      if (!node) continue
      if (!started) {
        for (let n: ProfileNode | undefined = node; n && !started; n = byId.get(parentOf?.get(n.id) ?? -1)) started = window.from?.test(n.callFrame.functionName) === true
        if (!started) continue
      }
      const f = node.callFrame
      if (window.busyOnly && f.functionName === '(idle)') continue
      const ms = (deltas[i] ?? 0) / 1000
      const where = f.url ? `${f.url.replace(/^.*\/(node_modules|src)\//, '$1/')}:${f.lineNumber + 1}` : ''
      const key = `${f.functionName || '(anonymous)'} ${where}`.trim()
      self.set(key, (self.get(key) ?? 0) + ms)
      totalMs += ms
    }
  }
  const frames = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([frame, ms]) => ({ frame, selfMs: Math.round(ms), share: totalMs ? ms / totalMs : 0 }))
  return { totalMs: Math.round(totalMs), frames }
}

function parents(nodes: ProfileNode[]): Map<number, number> {
  const up = new Map<number, number>()
  for (const n of nodes) for (const c of n.children ?? []) up.set(c, n.id)
  return up
}

/** Node names profiles CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; thread 0 is the main thread. */
export function isMainThreadProfile(file: string): boolean {
  return file.split('.').at(-3) === '0'
}
