// `colony live serve | publish | subscribe | token`.
import { randomBytes } from 'node:crypto'
import { bool, formatHelp, list, num, parseCommand, str, type CommandSpec, type ParsedCommand } from '../shared/cli-options.ts'
import { UsageError } from '../shared/errors.ts'
import { createLogger } from '../shared/logger.ts'
import { LIVE_DEFAULTS } from '../live/defaults.ts'
import { parseDuration, parseSize } from '../shared/units.ts'
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit-codes.ts'
import { installHttpDispatcher } from '../shared/http-dispatcher.ts'

const { server: SERVER, limits: LIMITS, hub: HUB, redis: REDIS, peers: PEERS, cluster: CLUSTER, cli: CLI } = LIVE_DEFAULTS

/** A default duration as --help shows it and parseDuration reads it back: 250ms, 15s, 24h. */
function durationText(ms: number): string {
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  return `${ms}ms`
}

/** A default size as --help shows it and parseSize reads it back: 64MiB, 256KiB, 1000. */
function sizeText(bytes: number): string {
  for (const [unit, size] of [['MiB', 1_048_576], ['KiB', 1024]] as const) if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`
  return String(bytes)
}

const SERVE: CommandSpec = {
  name: 'colony live serve',
  usage: '[--port 8080] [--workers N] [--redis URL] [--dc NAME --peer-dc URL…] --token SECRET | --jwt-key KEY',
  summary: 'Server-Sent Events fan-out of likes and comments. One command uses every core: worker processes share the port '
    + '(SO_REUSEPORT) and, without --redis, relay publishes through the primary. With --redis any number of nodes form one service.',
  options: {
    port: { type: 'number', description: 'TCP port', default: CLI.port },
    host: { type: 'string', description: 'address to bind', default: SERVER.host },
    workers: { type: 'number', description: 'worker processes (default: max(cores, ceil(capacity / open-files limit)))' },
    capacity: { type: 'number', description: 'connections to plan for; sizes the default worker count', default: CLUSTER.capacity },
    role: { type: 'string', description: 'both | frontend (viewer streams only) | dispatcher (publishes only); split roles need --redis', default: SERVER.role, placeholder: 'role' },
    redis: { type: 'string', description: 'link nodes through this Redis (redis://host:port/db)', placeholder: 'url' },
    'redis-prefix': { type: 'string', description: 'Redis key/channel prefix', default: REDIS.prefix },
    'node-ttl': { type: 'string', description: 'a silent node leaves the Redis routing table after this', default: durationText(REDIS.nodeTtlMs), placeholder: 'duration' },
    token: { type: 'string', description: 'publish token (Authorization: Bearer …); generated and printed when neither this nor --jwt-key is set', placeholder: 'secret' },
    'jwt-key': { type: 'string', description: 'HS256 key: accept publish JWTs signed with it (exp required; optional topics claim)', placeholder: 'key' },
    'viewer-key': { type: 'string', description: 'secret the viewer-token key is derived from (default: --token); colony live token needs the same', placeholder: 'secret' },
    'viewer-rate': { type: 'number', description: 'events per second one viewer token may publish, burst twice that (0 = unlimited)', default: LIMITS.viewerRate },
    'viewer-max-ttl': { type: 'string', description: 'longest lifetime of a viewer token the node accepts or issues', default: durationText(LIMITS.viewerMaxTtlMs), placeholder: 'duration' },
    dc: { type: 'string', description: 'name of this data center (needed with --peer-dc)', placeholder: 'name' },
    'peer-dc': { type: 'list', description: 'base URL of a peer DC; local publishes are forwarded to it exactly once (repeatable)', placeholder: 'url' },
    'peer-token': { type: 'string', description: 'token for the peer DCs\' publish API (default: --token)', placeholder: 'secret' },
    'peer-batch': { type: 'string', description: 'body bytes of one forwarded POST; keep it under the peers\' --max-body (default: three quarters of --max-body)', placeholder: 'size' },
    'peer-queue': { type: 'string', description: 'bytes of events waiting for one peer DC before the oldest are dropped (counted)', default: sizeText(PEERS.maxQueuedBytes), placeholder: 'size' },
    'cors-origin': { type: 'list', description: 'allowed CORS origin, * for any (repeatable)', default: [...SERVER.corsOrigins], placeholder: 'origin' },
    history: { type: 'number', description: 'events kept per topic for Last-Event-ID replay', default: HUB.historySize },
    'history-bytes': { type: 'string', description: 'bytes of events kept per topic for Last-Event-ID replay (the newest event is kept even alone over it)', default: sizeText(HUB.historyBytes), placeholder: 'size' },
    coalesce: { type: 'list', description: 'aggregate an event type per window: type=window (e.g. like=250ms); "none" turns it off', default: HUB.coalesce.map(([type, ms]) => `${type}=${durationText(ms)}`), placeholder: 'type=ms' },
    'batch-window': { type: 'string', description: 'longest a busy topic\'s events are held to share one write per connection (adaptive: only topics whose events arrive closer together than this)', default: durationText(HUB.batchWindowMs), placeholder: 'duration' },
    heartbeat: { type: 'string', description: 'comment sent to a connection idle this long', default: durationText(HUB.heartbeatMs), placeholder: 'duration' },
    retry: { type: 'string', description: 'retry: sent to clients (reconnection delay)', default: durationText(HUB.retryMs), placeholder: 'duration' },
    'max-buffer': { type: 'string', description: 'unsent bytes per connection before it is a slow consumer', default: sizeText(HUB.maxBufferBytes), placeholder: 'size' },
    'slow-consumer': { type: 'string', description: 'resync (skip, then replay from history or reset) | disconnect', default: HUB.slowConsumer, placeholder: 'policy' },
    'slow-timeout': { type: 'string', description: 'a slow consumer that has not drained after this is closed', default: durationText(HUB.slowTimeoutMs), placeholder: 'duration' },
    'max-conns-per-ip': { type: 'number', description: 'open SSE streams per client address per worker (0 = unlimited; behind a proxy every viewer shares its address)', default: LIMITS.maxConnectionsPerIp },
    'max-pending-per-ip': { type: 'number', description: 'connections per client address per worker that are not streams: sending a request or idle between requests (0 = unlimited)', default: LIMITS.maxPendingPerIp },
    'conn-rate': { type: 'number', description: 'new connections per second per worker (0 = unlimited)', default: LIMITS.connectionRate },
    'publish-rate': { type: 'number', description: 'published events per second per client address per worker (0 = unlimited; peer-DC forwards excepted)', default: LIMITS.publishRate },
    'headers-timeout': { type: 'string', description: 'a request head must be complete this long after the connection opened (or its first byte), however it trickles', default: durationText(LIMITS.headersTimeoutMs), placeholder: 'duration' },
    'body-timeout': { type: 'string', description: 'a request body must be complete this long after its head', default: durationText(LIMITS.bodyTimeoutMs), placeholder: 'duration' },
    'keep-alive': { type: 'string', description: 'idle time allowed between requests on a kept-alive connection', default: durationText(LIMITS.keepAliveMs), placeholder: 'duration' },
    'max-body': { type: 'string', description: 'largest publish body', default: sizeText(SERVER.maxBodyBytes), placeholder: 'size' },
    'max-batch': { type: 'number', description: 'events in one publish request', default: SERVER.maxBatch },
    'max-header': { type: 'string', description: 'largest request head (request line + headers); larger ones are answered 431', default: sizeText(SERVER.maxHeaderBytes), placeholder: 'size' },
    'semi-space': { type: 'number', description: 'V8 young-generation semi-space per worker in MB (0 = V8 default); small keeps RSS per connection down', default: CLUSTER.semiSpaceMb },
    grace: { type: 'string', description: 'drain time on shutdown (viewers are told to reconnect)', default: durationText(CLUSTER.graceMs), placeholder: 'duration' },
  },
  epilog: 'Endpoints: GET /v1/topics/:topic/events (SSE), POST /v1/topics/:topic/events (publish), POST /v1/tokens (viewer tokens, publish secret only), GET /v1/topics/:topic (viewers), GET / (page), /healthz, /metrics.\nSee docs/live.md.',
}

const TOKEN: CommandSpec = {
  name: 'colony live token',
  usage: '--topic T [--types like,comment] [--ttl 1h] [--page URL] [--json] --token SECRET | --viewer-key KEY',
  summary: 'Issues a viewer token: a JWT that may publish only these event types to these topics until it expires, rate-limited '
    + 'per token by the node (--viewer-rate). Give it to a browser instead of the publish secret: the page reads #viewer=<token>. '
    + 'Signed here with the key every node derives from the same secret; POST /v1/tokens issues the same over HTTP.',
  options: {
    topic: { type: 'list', description: 'topic name, or prefix* for every topic starting with prefix (repeatable or comma-separated)', placeholder: 'topic' },
    types: { type: 'list', description: 'event types the token may publish (comma-separated)', default: [...CLI.tokenTypes], placeholder: 'types' },
    ttl: { type: 'string', description: 'lifetime of the token', default: durationText(CLI.tokenTtlMs), placeholder: 'duration' },
    token: { type: 'string', description: 'the nodes\' publish secret (the key is derived from it unless --viewer-key is set)', placeholder: 'secret' },
    'viewer-key': { type: 'string', description: 'the nodes\' --viewer-key, when they have one', placeholder: 'secret' },
    'viewer-max-ttl': { type: 'string', description: 'longest --ttl allowed (the nodes refuse longer-lived tokens)', default: durationText(LIMITS.viewerMaxTtlMs), placeholder: 'duration' },
    page: { type: 'string', description: 'print the page link for the first topic at this node URL instead of the bare token', placeholder: 'url' },
    json: { type: 'boolean', description: 'print {"token","jti","exp","expiresAt","topics","types"}' },
  },
}

const PUBLISH: CommandSpec = {
  name: 'colony live publish',
  usage: '<topic> <json> [--url URL] [--token T]',
  summary: 'Publishes to a topic. <json> is {"type":…,"data":…}, {"events":[…]} or […]; with --type it is the data of one event of that type.',
  options: {
    url: { type: 'string', description: 'any live node', default: CLI.nodeUrl },
    token: { type: 'string', description: 'publish token (or a JWT)', placeholder: 'secret' },
    type: { type: 'string', description: 'wrap <json> as the data of one event of this type', placeholder: 'type' },
  },
}

const SUBSCRIBE: CommandSpec = {
  name: 'colony live subscribe',
  usage: '<topic> [--url URL] [--last-event-id N] [--count N] [--duration 30s] [--json]',
  summary: 'Prints a topic\'s events, one line each ("<id> <event> <data>", or JSON lines with --json); reconnects with Last-Event-ID.',
  options: {
    url: { type: 'string', description: 'any live node', default: CLI.nodeUrl },
    'last-event-id': { type: 'string', description: 'resume after this event id', placeholder: 'id' },
    count: { type: 'number', description: 'exit after this many events (0 = never)', default: 0 },
    duration: { type: 'string', description: 'exit after this long', placeholder: 'duration' },
    json: { type: 'boolean', description: 'JSON lines: {"id","event","data"}' },
  },
}

function duration(p: ParsedCommand, name: string): number | undefined {
  const text = str(p, name)
  if (text === undefined) return undefined
  const ms = parseDuration(text)
  if (ms <= 0) throw new UsageError(`--${name} must be longer than 0`)
  return ms
}

function parseCoalesce(items: string[]): [string, number][] {
  if (items.length === 1 && items[0] === 'none') return []
  return items.map((item) => {
    const m = /^([A-Za-z0-9_.:-]{1,64})=(.+)$/.exec(item)
    if (!m?.[1] || !m[2]) throw new UsageError(`--coalesce wants type=window (like=250ms), got "${item}"`)
    return [m[1], parseDuration(m[2])]
  })
}

/** The value of a flag whose spec has a default, so it is always set (flag, environment or default). */
function given(p: ParsedCommand, name: string): string {
  const text = str(p, name)
  if (text === undefined) throw new UsageError(`--${name} is required`)
  return text
}

function optionalSize(text: string | undefined): number | undefined {
  return text === undefined ? undefined : parseSize(text)
}

async function runServe(argv: string[]): Promise<number> {
  const p = parseCommand(SERVE, argv)
  if (p.help) { process.stdout.write(formatHelp(SERVE)); return EXIT_OK }
  if (p.positionals.length > 0) throw new UsageError(`unexpected argument "${p.positionals[0] ?? ''}" (see colony live serve --help)`)
  const role = str(p, 'role')
  if (role !== 'both' && role !== 'frontend' && role !== 'dispatcher') throw new UsageError('--role is both, frontend or dispatcher')
  if (role !== 'both' && !str(p, 'redis')) throw new UsageError('--role frontend/dispatcher needs --redis (the nodes must share a routing table)')
  const policy = str(p, 'slow-consumer')
  if (policy !== 'resync' && policy !== 'disconnect') throw new UsageError('--slow-consumer is resync or disconnect')
  let token = str(p, 'token')
  const jwtKey = str(p, 'jwt-key')
  const generated = !token && !jwtKey
  if (generated) token = randomBytes(18).toString('base64url')
  const peers = list(p, 'peer-dc')
  if (peers.length > 0 && !str(p, 'dc')) throw new UsageError('--peer-dc needs --dc NAME')
  // serve.ts rather than the index: the cluster primary then loads only what it runs (it is one more process in RSS).
  const { serveLive } = await import('../live/cluster/serve.ts')
  const logger = createLogger({ name: 'colony-live' })
  const served = await serveLive({
    host: str(p, 'host'), port: num(p, 'port'), workers: num(p, 'workers'), capacity: num(p, 'capacity'),
    redis: str(p, 'redis'), redisPrefix: str(p, 'redis-prefix'), nodeTtlMs: parseDuration(given(p, 'node-ttl')),
    role, token, jwtKey, viewerKey: str(p, 'viewer-key'), viewerRate: num(p, 'viewer-rate'), viewerMaxTtlMs: duration(p, 'viewer-max-ttl'), dc: str(p, 'dc'), peerDcs: peers, peerToken: str(p, 'peer-token'), corsOrigins: list(p, 'cors-origin'),
    peerBatchBytes: optionalSize(str(p, 'peer-batch')), peerQueueBytes: parseSize(given(p, 'peer-queue')),
    maxConnectionsPerIp: num(p, 'max-conns-per-ip'), maxPendingPerIp: num(p, 'max-pending-per-ip'), connectionRate: num(p, 'conn-rate'), publishRate: num(p, 'publish-rate'),
    headersTimeoutMs: duration(p, 'headers-timeout'), bodyTimeoutMs: duration(p, 'body-timeout'), keepAliveMs: duration(p, 'keep-alive'),
    maxBodyBytes: parseSize(given(p, 'max-body')), maxBatch: num(p, 'max-batch'), maxHeaderBytes: parseSize(given(p, 'max-header')), graceMs: parseDuration(given(p, 'grace')), semiSpaceMb: num(p, 'semi-space'),
    hub: {
      historySize: num(p, 'history'), historyBytes: parseSize(given(p, 'history-bytes')), coalesce: parseCoalesce(list(p, 'coalesce')),
      batchWindowMs: parseDuration(given(p, 'batch-window')), heartbeatMs: parseDuration(given(p, 'heartbeat')),
      retryMs: parseDuration(given(p, 'retry')), maxBufferBytes: parseSize(given(p, 'max-buffer')),
      slowConsumer: policy, slowTimeoutMs: parseDuration(given(p, 'slow-timeout')),
    },
  }, logger)
  const mode = str(p, 'redis') ? `redis ${str(p, 'redis') ?? ''}` : 'embedded'
  process.stdout.write(`colony live: serving ${served.url} (${served.workers} worker${served.workers === 1 ? '' : 's'}, ${mode})\n`)
  if (generated) process.stdout.write(`colony live: generated publish token ${token ?? ''} (for backends; never give it to a browser)\n`)
  const material = str(p, 'viewer-key') ?? token
  if (material) {
    // The page gets a viewer token (topic demo, like + comment, one hour), never the publish secret.
    const { deriveViewerKey, signViewerToken } = await import('../live/auth/viewer-tokens.ts')
    const issued = await signViewerToken(deriveViewerKey(material), { topics: [CLI.pageTopic], types: [...CLI.tokenTypes], ttlMs: CLI.pageTokenTtlMs })
    process.stdout.write(`colony live: page ${pageLink(served.url, CLI.pageTopic, issued.token)}\ncolony live: (viewer token for topic ${CLI.pageTopic} until ${issued.expiresAt}; more with colony live token)\n`)
  } else process.stdout.write(`colony live: page ${served.url}/?topic=${CLI.pageTopic} (read-only: viewer tokens need --token or --viewer-key)\n`)
  await new Promise<void>((resolve) => {
    const stop = (): void => { resolve() }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  process.stdout.write('colony live: draining (viewers told to reconnect)…\n')
  await served.close()
  return EXIT_OK
}

/** The page link for `topic` carrying a viewer token (in the fragment, which browsers never send to a server). */
function pageLink(base: string, topic: string, viewerToken: string): string {
  return `${base.replace(/\/+$/, '')}/?topic=${encodeURIComponent(topic)}#viewer=${viewerToken}`
}

async function runToken(argv: string[]): Promise<number> {
  const p = parseCommand(TOKEN, argv)
  if (p.help) { process.stdout.write(formatHelp(TOKEN)); return EXIT_OK }
  if (p.positionals.length > 0) throw new UsageError(`unexpected argument "${p.positionals[0] ?? ''}" (see colony live token --help)`)
  const material = str(p, 'viewer-key') ?? str(p, 'token')
  if (!material) throw new UsageError('colony live token needs the publish secret: --token (or COLONY_TOKEN), or --viewer-key')
  const topics = list(p, 'topic').flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean)
  if (topics.length === 0) throw new UsageError('colony live token needs --topic')
  const { deriveViewerKey, parseViewerGrant, signViewerToken } = await import('../live/auth/viewer-tokens.ts')
  let grant
  try {
    grant = parseViewerGrant({ topics, types: list(p, 'types').join(','), ttl: parseDuration(given(p, 'ttl')) / 1000 }, parseDuration(given(p, 'viewer-max-ttl')))
  } catch (err) { throw new UsageError((err as Error).message) }
  const issued = await signViewerToken(deriveViewerKey(material), grant)
  const page = str(p, 'page')
  const line = bool(p, 'json') ? JSON.stringify(issued) : page ? pageLink(page, topics[0] ?? '', issued.token) : issued.token
  process.stdout.write(`${line}\n`)
  return EXIT_OK
}

async function runPublish(argv: string[]): Promise<number> {
  const p = parseCommand(PUBLISH, argv)
  if (p.help) { process.stdout.write(formatHelp(PUBLISH)); return EXIT_OK }
  const [topic, json, ...extra] = p.positionals
  if (!topic || json === undefined || extra.length > 0) throw new UsageError('usage: colony live publish <topic> <json> (see --help)')
  const token = str(p, 'token')
  if (!token) throw new UsageError('publishing needs --token (or COLONY_TOKEN)')
  let value: unknown
  try { value = JSON.parse(json) } catch { throw new UsageError('<json> is not valid JSON') }
  const type = str(p, 'type')
  const { publishLive } = await import('../live/index.ts')
  const { parseTopic } = await import('../live/core/publish-body.ts')
  parseTopic(encodeURIComponent(topic))
  let events: { type: string; data: unknown }[]
  if (type) events = [{ type, data: value }]
  else if (Array.isArray(value)) events = value as { type: string; data: unknown }[]
  else if (typeof value === 'object' && value !== null && Array.isArray((value as { events?: unknown }).events)) events = (value as { events: { type: string; data: unknown }[] }).events
  else if (typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string') events = [value as { type: string; data: unknown }]
  else throw new UsageError('<json> needs a "type" (or pass --type)')
  const res = await publishLive({ url: given(p, 'url'), topic, token, events })
  process.stdout.write(`${JSON.stringify(res)}\n`)
  return EXIT_OK
}

async function runSubscribe(argv: string[]): Promise<number> {
  const p = parseCommand(SUBSCRIBE, argv)
  if (p.help) { process.stdout.write(formatHelp(SUBSCRIBE)); return EXIT_OK }
  const [topic, ...extra] = p.positionals
  if (!topic || extra.length > 0) throw new UsageError('usage: colony live subscribe <topic> (see --help)')
  const { subscribeLive } = await import('../live/index.ts')
  const { parseTopic } = await import('../live/core/publish-body.ts')
  parseTopic(encodeURIComponent(topic))
  const max = num(p, 'count') ?? 0
  const durationText = str(p, 'duration')
  const abort = new AbortController()
  const timer = durationText ? setTimeout(() => abort.abort(), parseDuration(durationText)) : undefined
  const onSignal = (): void => abort.abort()
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  let n = 0
  const json = bool(p, 'json')
  try {
    await subscribeLive({
      url: given(p, 'url'), topic, lastEventId: str(p, 'last-event-id'), signal: abort.signal,
      onEvent: (msg) => {
        process.stdout.write(json ? `${JSON.stringify({ id: msg.id, event: msg.event, data: msg.data })}\n` : `${msg.id ?? '-'} ${msg.event} ${msg.data}\n`)
        if (max > 0 && ++n >= max) abort.abort()
      },
    })
  } finally {
    if (timer) clearTimeout(timer)
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  return max > 0 && n < max ? EXIT_FAILURE : EXIT_OK
}

export async function run(argv: string[]): Promise<number> {
  // Node's fetch() (the API clients, the aria2 RPC, the live relays) goes through this package's undici.
  installHttpDispatcher()
  const [sub, ...rest] = argv
  switch (sub) {
    case 'serve': return runServe(rest)
    case 'publish': return runPublish(rest)
    case 'token': return runToken(rest)
    case 'subscribe': return runSubscribe(rest)
    case undefined: case '--help': case '-h': case 'help':
      process.stdout.write([
        'Usage: colony live <serve|publish|subscribe|token> [options]', '',
        '  serve      run a live node / service (SSE fan-out, publish API, page at /)',
        '  publish    publish an event: colony live publish <topic> <json> --token T',
        '  subscribe  print a topic\'s events: colony live subscribe <topic>',
        '  token      issue a viewer token for browsers: colony live token --topic T --types like,comment --ttl 1h --token T', '',
        'The load generator and the nginx/nchan comparison run from a repository checkout: npm run bench:live -- --help', '',
      ].join('\n'))
      return sub === undefined ? EXIT_USAGE : EXIT_OK
    default:
      throw new UsageError(`unknown live command "${sub}" (serve, publish, subscribe, token)`)
  }
}
