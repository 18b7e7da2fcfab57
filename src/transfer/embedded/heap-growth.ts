// Bounds how far V8 lets an old generation grow past what survived its last full collection. V8 sets the next
// collection's trigger at the live size times a factor it picks from its GC and mutator speeds, up to 4x on a
// 64-bit host: a copy worker whose old generation holds ~15 MB live grows to ~45 MB before it is collected, and a
// transfer runs one main thread and its copy workers. A fixed, small factor keeps each old generation near
// its live size; the flag is process-wide, so it holds for this thread and every copy worker it starts.
import v8 from 'node:v8'

const FLAG = /^--heap[-_]growing[-_]percent(=|$)/

/**
 * Sets V8's old-generation growing factor to 1 + `percent`/100 for every isolate of the process, unless the process
 * was started with its own `--heap-growing-percent` (the user's setting wins). Returns whether it was set.
 */
export function limitHeapGrowth(percent: number, execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((a) => FLAG.test(a))) return false
  v8.setFlagsFromString(`--heap-growing-percent=${Math.max(1, Math.round(percent))}`)
  return true
}
