// Small numeric helpers for the swarm bench.

/** Nearest-rank percentile of the values (p in 0..100). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank] ?? Number.NaN
}

/**
 * The fastest any scheme can deliver F bytes to N hosts from an origin with upload U when each host
 * uploads u (Kumar & Ross, "Peer-assisted file distribution", 2006): the origin must send the object at
 * least once (F/U) and the N·F bytes received must come from total upload U + N·u. Download caps are
 * ignored (hosts here have none).
 */
export function swarmBoundSeconds(fileBytes: number, n: number, originRate: number, agentRate: number): number {
  return Math.max(fileBytes / originRate, (n * fileBytes) / (originRate + n * agentRate))
}

/**
 * The same limit for a design where the torrent exists only after one host has fetched and hashed the
 * whole object (BitTorrent v1's info hash covers every piece): F/U for that fetch, then the other N−1
 * hosts need every piece uploaded at least once by somebody at rate u (≥ F/u), and N·u total carries the
 * (N−1)·F bytes.
 */
export function twoPhaseBoundSeconds(fileBytes: number, n: number, originRate: number, agentRate: number): number {
  return fileBytes / originRate + Math.max(fileBytes / agentRate, ((n - 1) * fileBytes) / (n * agentRate))
}

export function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1)
}

export function secs(ms: number): string {
  return (ms / 1000).toFixed(2)
}
