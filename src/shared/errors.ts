/**
 * One base error for the whole toolkit. Callers switch on `code`, never on message text
 * (the undici pattern); `status` lets an HTTP server answer with the error directly (the h3 pattern).
 */
export type ColonyErrorOptions = {
  /** The underlying error, kept for logs. @defaultValue undefined */
  cause?: unknown
  /** HTTP status a server answers with when this error reaches it. @defaultValue 500 */
  status?: number
  /** Extra machine-readable facts (a URL, a key, a class id). @defaultValue {} */
  details?: Record<string, unknown>
}

export class ColonyError extends Error {
  readonly code: string
  readonly status: number
  readonly details: Record<string, unknown>

  constructor(code: string, message: string, options: ColonyErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.status = options.status ?? 500
    this.details = options.details ?? {}
  }

  toJSON(): { name: string; code: string; message: string; details: Record<string, unknown>; cause?: string } {
    const out: { name: string; code: string; message: string; details: Record<string, unknown>; cause?: string } = {
      name: this.name,
      code: this.code,
      message: this.message,
      details: this.details,
    }
    if (this.cause !== undefined) out.cause = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return out
  }
}

/** Wrong flags or arguments: the CLI prints one line and exits 2. */
export class UsageError extends ColonyError {
  constructor(message: string, options: ColonyErrorOptions = {}) {
    super('COLONY_USAGE', message, { status: 400, ...options })
  }
}

/** A fetch the user did not allow (host not in --allow-host, a non-http scheme). */
export class ForbiddenTargetError extends ColonyError {
  constructor(message: string, options: ColonyErrorOptions = {}) {
    super('COLONY_FORBIDDEN_TARGET', message, { status: 403, ...options })
  }
}

/** A path or key that would escape its root (`../`, absolute, NUL). */
export class PathEscapeError extends ColonyError {
  constructor(message: string, options: ColonyErrorOptions = {}) {
    super('COLONY_PATH_ESCAPE', message, { status: 400, ...options })
  }
}

export function isColonyError(err: unknown): err is ColonyError {
  return err instanceof ColonyError
}

/** A printable one-liner for any thrown value. */
export function describeError(err: unknown): string {
  if (err instanceof ColonyError) return `${err.code}: ${err.message}`
  if (err instanceof Error) return err.message
  return String(err)
}
