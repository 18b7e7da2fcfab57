import { ForbiddenTargetError } from './errors.ts'

/**
 * Which hosts may be fetched. Patterns: "cdn.example.com", "*.example.com" (any subdomain),
 * "host:8080" (that port only). An empty list allows nothing; callers seed it with the hosts the user named.
 */
export class HostAllowList {
  readonly #exact = new Set<string>()
  readonly #suffixes: string[] = []

  constructor(patterns: Iterable<string> = []) {
    for (const p of patterns) this.add(p)
  }

  add(pattern: string): void {
    const p = pattern.trim().toLowerCase()
    if (!p) return
    if (p.startsWith('*.')) this.#suffixes.push(p.slice(1))
    else this.#exact.add(p)
  }

  /** Adds the host of a URL the user typed (a source on the command line is an explicit allow). */
  addUrl(url: string | URL): void {
    const u = typeof url === 'string' ? new URL(url) : url
    this.add(u.host)
  }

  allows(url: URL): boolean {
    const host = url.hostname.toLowerCase()
    const hostPort = url.host.toLowerCase()
    if (this.#exact.has(hostPort) || this.#exact.has(host)) return true
    return this.#suffixes.some((s) => host.endsWith(s))
  }

  /** Throws COLONY_FORBIDDEN_TARGET for a non-http(s) URL or a host not allowed. */
  assert(url: URL): void {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ForbiddenTargetError(`only http(s) URLs are fetched, not ${url.protocol}`, { details: { url: url.href } })
    }
    if (!this.allows(url)) {
      throw new ForbiddenTargetError(`host ${url.host} is not allowed (add it with --allow-host)`, { details: { url: url.href } })
    }
  }

  list(): string[] {
    return [...this.#exact, ...this.#suffixes.map((s) => `*${s}`)]
  }
}
