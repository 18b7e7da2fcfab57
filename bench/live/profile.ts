// Top self-time frames of a V8 .cpuprofile (node --cpu-prof), to say where a server worker's time goes.

type ProfileNode = { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }
export type CpuProfile = { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

/** Non-idle sampled time in µs: picks the busiest of several processes' profiles. */
export function busyMicros(profile: CpuProfile): number {
  const idle = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id))
  let busy = 0
  profile.samples.forEach((id, i) => { if (!idle.has(id)) busy += profile.timeDeltas[i] ?? 0 })
  return busy
}

export function topFrames(profile: CpuProfile, limit = 20): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<string, number>()
  let total = 0
  let idle = 0
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0
    const cf = byId.get(id)?.callFrame
    if (!cf) return
    if (cf.functionName === '(idle)') { idle += dt; return }
    const where = cf.url ? ` ${cf.url.replace(/^.*\/(node_modules|src)\//, '$1/').replace(/^node:/, 'node:')}:${cf.lineNumber + 1}` : ''
    const key = `${cf.functionName || '(anonymous)'}${where}`
    self.set(key, (self.get(key) ?? 0) + dt)
    total += dt
  })
  const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, limit)
  return [
    `  busy ${(total / 1e6).toFixed(2)} s, idle ${(idle / 1e6).toFixed(2)} s`,
    ...rows.map(([k, t]) => `  ${((100 * t) / total).toFixed(1).padStart(5)}%  ${k}`),
  ].join('\n')
}
