import { pino, destination, type Logger, type LoggerOptions } from 'pino'

export type { Logger }

export type CreateLoggerOptions = {
  /** Component name stamped on every line. */
  name: string
  /** pino level; COLONY_LOG_LEVEL overrides. @defaultValue 'info' */
  level?: string
  /** Where lines go: 1 = stdout, 2 = stderr. @defaultValue 2 (stdout stays free for --json output) */
  fd?: 1 | 2
}

/** JSON lines on stderr by default, so a CLI's stdout stays machine-readable. */
export function createLogger(options: CreateLoggerOptions): Logger {
  const level = process.env.COLONY_LOG_LEVEL ?? options.level ?? 'info'
  const opts: LoggerOptions = { name: options.name, level, base: { pid: process.pid } }
  return pino(opts, destination({ fd: options.fd ?? 2, sync: false }))
}

/** A logger that drops everything: for library use and quiet tests. */
export function createSilentLogger(): Logger {
  return pino({ level: 'silent' })
}
