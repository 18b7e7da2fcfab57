import { UsageError } from './errors.ts'

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12,
  kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4,
}

/** "8MB", "512KiB", "1.5g", "1024" → bytes. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text)
  const unit = m?.[2]?.toLowerCase() ?? ''
  const mult = SIZE_UNITS[unit]
  if (!m || mult === undefined) throw new UsageError(`not a size: "${text}" (try 512KB, 8MB, 2GiB)`)
  return Math.round(Number(m[1]) * mult)
}

/** "8MB/s" or "8MB" → bytes per second; "0" or "unlimited" → 0 (no cap). */
export function parseRate(text: string): number {
  if (/^(0|unlimited|none)$/i.test(text.trim())) return 0
  return parseSize(text.replace(/\/s$/i, ''))
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, '': 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** "250ms", "30s", "5m", "2h", "10" (seconds) → milliseconds. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(text)
  const mult = DURATION_UNITS[(m?.[2] ?? '').toLowerCase()]
  if (!m || mult === undefined) throw new UsageError(`not a duration: "${text}" (try 500ms, 30s, 5m)`)
  return Math.round(Number(m[1]) * mult)
}

/** 1234567 → "1.23 MB". */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '?'
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let i = 0
  let v = n
  while (Math.abs(v) >= 1000 && i < units.length - 1) { v /= 1000; i++ }
  return `${i === 0 ? v.toFixed(0) : v.toFixed(2)} ${units[i]}`
}

/** 83_000 → "1m23s". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?'
  if (ms < 1000) return `${Math.round(ms)}ms`
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`
}
