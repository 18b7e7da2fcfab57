// --bwlimit values: one rate ("5M", "off") or a day/week timetable in rclone's form ("08:00,20M 19:00,off",
// "Mon-08:00,5M Sat-00:00,off"). A timetable holds from each entry's time until the next one and wraps around: before
// the first entry of the day (week), the last one applies. Times are wall-clock times in one time zone (the machine's
// local zone unless one is named), so "08:00" follows the zone's daylight-saving changes.
import { parseSize } from '../../../shared/units.ts'
import { TransferError, TRANSFER_CODES } from '../../errors.ts'

/** One timetable entry: from `minute` of the cycle (a day, or a week starting Monday 00:00) on, `rate` bytes/s (0 = no limit). */
export type BwSlot = { minute: number; rate: number }

/** A parsed --bwlimit: slots in ascending order; `weekly` when entries name days. One slot at minute 0 is a constant rate. */
export type BwSchedule = { slots: BwSlot[]; weekly: boolean }

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']
const DAY_NAMES = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday']

const bad = (message: string): TransferError => new TransferError(TRANSFER_CODES.BAD_LIMIT, message, { status: 400 })

/**
 * A rate: a size per second with a unit ("512K", "5M", "1.5MiB", "20MB/s"; K/M/G are powers of 1000, KiB/MiB/GiB of
 * 1024), or "off"/"0" for no limit. A bare number other than 0 is refused: rclone reads it as KiB/s, so it is ambiguous.
 */
export function parseBwRate(text: string, label = '--bwlimit'): number {
  const t = text.trim().replace(/\/s$/i, '')
  if (/^(off|0+)$/i.test(t)) return 0
  if (/^\d+(\.\d+)?$/.test(t)) throw bad(`${label}: "${text}" has no unit (write 512K, 5M or 1GiB; off for no limit)`)
  if (t.includes(':')) throw bad(`${label}: "${text}": upload:download pairs do not apply (colony limits what it reads from the source; give one rate)`)
  let rate: number
  try { rate = parseSize(t) } catch { throw bad(`${label}: not a rate: "${text}" (write 512K, 5M or 1GiB; off for no limit)`) }
  if (rate < 1000) throw bad(`${label}: ${text} is below the smallest rate, 1K (1000 bytes/s)`)
  return rate
}

function parseTime(text: string, entry: string): { day: number | undefined; minute: number } {
  const m = /^(?:([a-z]+)-)?(\d{1,2}):(\d{2})$/i.exec(text)
  if (!m) throw bad(`--bwlimit: "${entry}": the time must be HH:MM or Day-HH:MM (e.g. 08:00, Mon-08:00)`)
  const hh = Number(m[2])
  const mm = Number(m[3])
  if (hh > 23 || mm > 59) throw bad(`--bwlimit: "${entry}": ${text} is not a time of day (00:00 to 23:59)`)
  let day: number | undefined
  if (m[1] !== undefined) {
    const name = m[1].toLowerCase()
    day = DAYS.indexOf(name) >= 0 ? DAYS.indexOf(name) : DAY_NAMES.indexOf(name)
    if (day < 0) throw bad(`--bwlimit: "${entry}": unknown day "${m[1]}" (Mon, Tue, Wed, Thu, Fri, Sat, Sun)`)
  }
  return { day, minute: (day ?? 0) * 1440 + hh * 60 + mm }
}

/** Parses --bwlimit: a rate, or entries "TIME,RATE" separated by spaces or ';', in ascending time order. */
export function parseBwSchedule(text: string): BwSchedule {
  const entries = text.trim().split(/[\s;]+/).filter(Boolean)
  if (entries.length === 0) throw bad('--bwlimit: empty (write a rate such as 5M, or a timetable such as "08:00,20M 19:00,off")')
  if (entries.length === 1 && !entries[0]?.includes(',')) return { slots: [{ minute: 0, rate: parseBwRate(entries[0] as string) }], weekly: false }
  const slots: BwSlot[] = []
  let weekly: boolean | undefined
  for (const entry of entries) {
    const parts = entry.split(',')
    if (parts.length !== 2) throw bad(`--bwlimit: "${entry}" is not TIME,RATE (e.g. 08:00,20M)`)
    const { day, minute } = parseTime(parts[0] as string, entry)
    if (weekly !== undefined && weekly !== (day !== undefined)) throw bad('--bwlimit: name a day in every entry (Mon-08:00,5M) or in none (08:00,5M), not in some')
    weekly = day !== undefined
    const prev = slots[slots.length - 1]
    if (prev && minute <= prev.minute) throw bad(`--bwlimit: "${entry}" is not after the entry before it (entries go in ascending time order${weekly ? ', Monday first' : ''})`)
    slots.push({ minute, rate: parseBwRate(parts[1] as string, `--bwlimit "${entry}"`) })
  }
  return { slots, weekly: weekly ?? false }
}

/** A schedule that never limits (every slot "off"). */
export function isUnlimited(schedule: BwSchedule): boolean {
  return schedule.slots.every((s) => s.rate === 0)
}

const WEEKDAY_INDEX: Record<string, number> = { Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6 }

/**
 * The minute of the day or week (Monday first) `ms` falls on in `timeZone`; undefined zone = this process's local
 * time. One formatter per zone, built on first use.
 */
export function cycleMinute(ms: number, weekly: boolean, timeZone?: string): number {
  let day: number
  let hour: number
  let minute: number
  if (timeZone === undefined) {
    const d = new Date(ms)
    day = (d.getDay() + 6) % 7
    hour = d.getHours()
    minute = d.getMinutes()
  } else {
    const parts = formatterFor(timeZone).formatToParts(ms)
    const get = (type: string): string => parts.find((p) => p.type === type)?.value ?? '0'
    day = WEEKDAY_INDEX[get('weekday')] ?? 0
    hour = Number(get('hour')) % 24
    minute = Number(get('minute'))
  }
  return (weekly ? day * 1440 : 0) + hour * 60 + minute
}

const formatters = new Map<string, Intl.DateTimeFormat>()
function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
    formatters.set(timeZone, f)
  }
  return f
}

/** Whether `timeZone` is an IANA zone this runtime knows ("Europe/Paris", "UTC"). */
export function isTimeZone(timeZone: string): boolean {
  try { new Intl.DateTimeFormat('en-US', { timeZone }); return true } catch { return false }
}

/** The rate (bytes/s, 0 = no limit) the schedule gives at `ms` (epoch ms) in `timeZone` (default: local time). */
export function rateAt(schedule: BwSchedule, ms: number, timeZone?: string): number {
  const { slots } = schedule
  if (slots.length === 1) return (slots[0] as BwSlot).rate
  const at = cycleMinute(ms, schedule.weekly, timeZone)
  let current = slots[slots.length - 1] as BwSlot
  for (const s of slots) { if (s.minute <= at) current = s; else break }
  return current.rate
}
