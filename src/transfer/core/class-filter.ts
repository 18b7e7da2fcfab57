// Which classes a run takes: --include-class / --exclude-class globs on the class id, so a migration can run in
// waves. Class ids are paths more often than not (a playlist URL's path, a catalog id like "2024/03/lecture-7", a
// directory), so the globs are path globs, matched against the WHOLE id, case-sensitively:
//
//   *       any run of characters except '/'        ?        one character except '/'
//   **      any run of characters, '/' included     [a-z]    one character of a set ([!…] or [^…] negates; never '/')
//   {a,b}   either alternative (globs inside work)  \x       the character x itself
//
// A class is taken when no include glob is given or at least one matches, AND no exclude glob matches: exclude
// wins, and the order of the flags does not matter. A tiny matcher of our own rather than Node's path.matchesGlob:
// that one follows the platform's separator and minimatch's dot-file rules, and class ids are not file names.
import { TransferError, TRANSFER_CODES } from '../errors.ts'

export type ClassFilterSpec = {
  /** Globs; a class must match one of them (none given: every class). @defaultValue [] */
  include?: string[]
  /** Globs; a class matching any of them is left out. @defaultValue [] */
  exclude?: string[]
}

const SPECIAL = /[.+^$|()\\/{}[\]]/

/** In a report: classes left out by the filter (not crawled, copied nor listed as classes) and its globs. */
export type FilterSummary = { classes: number; include: string[]; exclude: string[] }

/** Compiles one glob into an anchored RegExp; throws TRANSFER_BAD_FILTER for an unclosed [ or { or a trailing \. */
export function compileGlob(glob: string): RegExp {
  let i = 0
  const bad = (why: string): never => { throw new TransferError(TRANSFER_CODES.BAD_FILTER, `class filter "${glob}": ${why}`, { status: 400 }) }
  // Reads up to the end of the glob or, inside braces, to the next ',' or '}' at this level.
  const seq = (inBraces: boolean): string => {
    let out = ''
    while (i < glob.length) {
      const c = glob[i] as string
      if (inBraces && (c === ',' || c === '}')) return out
      i++
      if (c === '\\') {
        if (i >= glob.length) bad('ends with a lone \\')
        const lit = glob[i++] as string
        out += SPECIAL.test(lit) || lit === '*' || lit === '?' ? `\\${lit}` : lit
      } else if (c === '*') {
        if (glob[i] === '*') { while (glob[i] === '*') i++; out += '.*' } else out += '[^/]*'
      } else if (c === '?') {
        out += '[^/]'
      } else if (c === '[') {
        const end = glob.indexOf(']', i + 1)
        if (end < 0) bad('unclosed [')
        let body = glob.slice(i, end)
        i = end + 1
        const negate = body.startsWith('!') || body.startsWith('^')
        if (negate) body = body.slice(1)
        const set = body.replace(/[\\\]^]/g, (m) => `\\${m}`)
        out += negate ? `[^/${set}]` : `(?!/)[${set}]`
      } else if (c === '{') {
        const alts: string[] = []
        for (;;) {
          alts.push(seq(true))
          if (i >= glob.length) bad('unclosed {')
          if (glob[i++] === '}') break
        }
        out += `(?:${alts.join('|')})`
      } else {
        out += SPECIAL.test(c) ? `\\${c}` : c
      }
    }
    return out
  }
  return new RegExp(`^${seq(false)}$`, 's')
}

/** The include/exclude decision for class ids; `selects` is the hot call (once per class). */
export class ClassFilter {
  readonly include: readonly string[]
  readonly exclude: readonly string[]
  readonly #include: RegExp[]
  readonly #exclude: RegExp[]

  constructor(spec: ClassFilterSpec = {}) {
    this.include = [...(spec.include ?? [])]
    this.exclude = [...(spec.exclude ?? [])]
    this.#include = this.include.map(compileGlob)
    this.#exclude = this.exclude.map(compileGlob)
  }

  /** True when no glob is given (every class is taken). */
  get empty(): boolean { return this.include.length === 0 && this.exclude.length === 0 }

  selects(classId: string): boolean {
    if (this.#include.length > 0 && !this.#include.some((r) => r.test(classId))) return false
    return !this.#exclude.some((r) => r.test(classId))
  }

  /** A canonical form (sorted: order does not matter) for run names and identities; '' when empty. */
  identity(): string {
    return this.empty ? '' : JSON.stringify({ include: [...this.include].sort(), exclude: [...this.exclude].sort() })
  }

  /** What a report says about the filter: how many classes it left out, and its globs. */
  summary(filtered: number): FilterSummary {
    return { classes: filtered, include: [...this.include], exclude: [...this.exclude] }
  }

  /** Splits `items` into taken and filtered out, by `id`. */
  split<T extends { id: string }>(items: T[]): { taken: T[]; filtered: number } {
    if (this.empty) return { taken: items, filtered: 0 }
    const taken = items.filter((c) => this.selects(c.id))
    return { taken, filtered: items.length - taken.length }
  }
}

/** A plan with the classes (and set-aside entries) the filter leaves out removed, and how many that was. */
export function filterPlan<P extends { classes: Array<{ id: string }>; skipped: Array<{ id: string }> }>(plan: P, filter: ClassFilter): P & { filtered: number } {
  if (filter.empty) return { ...plan, filtered: 0 }
  const classes = filter.split(plan.classes)
  const skipped = filter.split(plan.skipped)
  return { ...plan, classes: classes.taken, skipped: skipped.taken, filtered: classes.filtered + skipped.filtered }
}
