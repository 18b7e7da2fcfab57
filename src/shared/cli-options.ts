import { parseArgs } from 'node:util'
import { UsageError } from './errors.ts'

export type OptionSpec = {
  /** string | number | boolean | list (repeatable; the env var takes a comma-separated list). */
  type: 'string' | 'number' | 'boolean' | 'list'
  /** One line for --help. */
  description: string
  /** Single-letter alias. @defaultValue none */
  short?: string
  /** Value when neither flag nor environment sets it. @defaultValue undefined */
  default?: string | number | boolean | string[]
  /** Environment variable; COLONY_<FLAG_NAME> when omitted. */
  env?: string
  /** Placeholder shown in --help. @defaultValue the type */
  placeholder?: string
}

export type CommandSpec = {
  /** "colony transfer" */
  name: string
  /** "<source…> --to <dest>" */
  usage: string
  /** One paragraph for --help. */
  summary: string
  options: Record<string, OptionSpec>
  /** Extra help text after the options (examples, exit codes). */
  epilog?: string
}

export type ParsedValue = string | number | boolean | string[] | undefined
export type ParsedCommand = { values: Record<string, ParsedValue>; positionals: string[]; help: boolean }

export function envName(flag: string, spec: OptionSpec): string {
  return spec.env ?? `COLONY_${flag.replace(/-/g, '_').toUpperCase()}`
}

/**
 * Flags beat environment beat defaults. Unknown flags are a UsageError (exit 2), never ignored:
 * a typo in a migration command must not silently run with defaults.
 */
export function parseCommand(spec: CommandSpec, argv: string[], env: NodeJS.ProcessEnv = process.env): ParsedCommand {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {
    help: { type: 'boolean', short: 'h' },
  }
  for (const [name, o] of Object.entries(spec.options)) {
    options[name] = { type: o.type === 'boolean' ? 'boolean' : 'string', ...(o.short ? { short: o.short } : {}), ...(o.type === 'list' ? { multiple: true } : {}) }
  }
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true, allowNegative: true })
  } catch (err) {
    throw new UsageError(`${(err as Error).message.split('\n')[0]} (see ${spec.name} --help)`)
  }
  const values: Record<string, ParsedValue> = {}
  for (const [name, o] of Object.entries(spec.options)) {
    const raw = parsed.values[name] as string | boolean | string[] | undefined
    const fromEnv = env[envName(name, o)]
    let v: ParsedValue = raw
    if (v === undefined && fromEnv !== undefined && fromEnv !== '') {
      if (o.type === 'boolean') v = /^(1|true|yes|on)$/i.test(fromEnv)
      else if (o.type === 'list') v = fromEnv.split(',').map((s) => s.trim()).filter(Boolean)
      else v = fromEnv
    }
    if (v === undefined) v = o.default
    if (o.type === 'number' && v !== undefined) {
      const n = Number(v)
      if (!Number.isFinite(n)) throw new UsageError(`--${name} wants a number, got "${String(v)}"`)
      v = n
    }
    values[name] = v
  }
  return { values, positionals: parsed.positionals, help: parsed.values.help === true }
}

export function formatHelp(spec: CommandSpec): string {
  const rows = Object.entries(spec.options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'boolean' ? '' : ` <${o.placeholder ?? o.type}>`}`
    const def = o.default === undefined || o.default === false ? '' : ` (default: ${Array.isArray(o.default) ? o.default.join(',') : String(o.default)})`
    return [flag, `${o.description}${def} [env ${envName(name, o)}]`] as const
  })
  const width = Math.min(36, Math.max(...rows.map(([f]) => f.length), 10))
  const lines = [`Usage: ${spec.name} ${spec.usage}`, '', spec.summary, '', 'Options:']
  for (const [f, d] of rows) lines.push(`  ${f.padEnd(width)}  ${d}`)
  lines.push(`  ${'-h, --help'.padEnd(width)}  show this help`)
  if (spec.epilog) lines.push('', spec.epilog)
  return lines.join('\n') + '\n'
}

/** Typed accessors: the spec guarantees the type, these keep call sites free of casts. */
export function str(p: ParsedCommand, name: string): string | undefined {
  const v = p.values[name]
  return v === undefined ? undefined : String(v)
}
export function num(p: ParsedCommand, name: string): number | undefined {
  const v = p.values[name]
  return typeof v === 'number' ? v : undefined
}
export function bool(p: ParsedCommand, name: string): boolean {
  return p.values[name] === true
}
export function list(p: ParsedCommand, name: string): string[] {
  const v = p.values[name]
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : []
}
