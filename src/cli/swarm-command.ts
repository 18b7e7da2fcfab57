// `colony swarm agent|get|status|tracker`: the per-host daemon, its client, and the tracker.
import { rename, rm } from 'node:fs/promises'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import cliProgress, { type Bar } from 'cli-progress'
import { formatHelp, list, num, parseCommand, str, bool, type CommandSpec } from '../shared/cli-options.ts'
import { ColonyError, UsageError } from '../shared/errors.ts'
import { parseHostPort } from '../shared/http-ops.ts'
import { createLogger } from '../shared/logger.ts'
import { formatBytes, parseDuration, parseRate, parseSize } from '../shared/units.ts'
import { createHashingFileSink } from '../swarm/api/hashing-sink.ts'
import {
  createEtcdIndex, fetchObject, listDownloads, requestDownload, startAgent, SWARM_DEFAULTS, SwarmError, waitForDownload,
  type DownloadInfo, type EngineKind, type PeerLimits,
} from '../swarm/index.ts'
import { EXIT_FAILURE, EXIT_OK } from './exit-codes.ts'
import { installHttpDispatcher } from '../shared/http-dispatcher.ts'

const USAGE = `Usage: colony swarm <agent|get|status|tracker> [options]

  agent     run the per-host daemon (REST API on loopback, BitTorrent engine, etcd or in-memory index)
  get       download a URL through the local agent and write it to a file
  status    list the agent's downloads and seeds
  tracker   run a BitTorrent tracker (run two or more)

Run \`colony swarm <sub> --help\` for its options.
`

const { agent: AGENT, api: API, backToSource: B2S, client: CLIENT, etcd: ETCD, peerLimits: PEER } = SWARM_DEFAULTS

/** A duration in the largest unit that writes it whole ("1h", "20s", "250ms"), as --help shows defaults. */
export function durationText(ms: number): string {
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  return `${ms}ms`
}

/** A size in whole MiB when it is one ("16MiB"), else bytes. */
function sizeText(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)}MiB` : String(bytes)
}

/** COLONY_SWARM_<FLAG> for every option, so swarm settings never collide with another subsystem's COLONY_<FLAG>. */
function swarmEnv(spec: CommandSpec): CommandSpec {
  for (const [flag, o] of Object.entries(spec.options)) o.env ??= `COLONY_SWARM_${flag.replace(/-/g, '_').toUpperCase()}`
  return spec
}

export const AGENT_SPEC: CommandSpec = swarmEnv({
  name: 'colony swarm agent',
  usage: '[--api HOST:PORT] [--etcd URL…] [--tracker URL…] [--data DIR] [--allow-host HOST…] [--upload-limit RATE] [--download-limit RATE] [--listen PORT]',
  summary: 'Runs the swarm agent: turns HTTP objects into torrents so exactly one agent of the fleet fetches each object from '
    + 'the origin and the others get it from peers. With --etcd the fleet shares an index and elects the fetching agent per '
    + 'object; without it the index is in-memory (a single host). Only http(s) URLs on --allow-host hosts are fetched. '
    + 'Prints the API URL on stdout and runs until SIGINT/SIGTERM.',
  options: {
    api: { type: 'string', description: 'REST API address (loopback unless you say otherwise)', default: `${AGENT.apiHost}:${AGENT.cliApiPort}`, placeholder: 'host:port' },
    'api-allowed-host': { type: 'list', description: 'Host header the API answers to besides its bind address: name, name:port, *.domain, or * for any (repeatable)', placeholder: 'name' },
    'api-max-active': { type: 'number', description: 'downloads one client address may have running that it started (0 = no limit)', default: API.maxActivePerClient, placeholder: 'n' },
    'api-start-rate': { type: 'number', description: 'download starts per second per client address (0 = no limit)', default: API.startRate, placeholder: 'n' },
    'api-start-burst': { type: 'number', description: 'download starts one client address may make at once (≥ 1)', default: API.startBurst, placeholder: 'n' },
    etcd: { type: 'list', description: 'etcd endpoint for the shared index (repeatable)', placeholder: 'url' },
    'etcd-prefix': { type: 'string', description: 'etcd key prefix of this fleet', default: ETCD.prefix },
    'lease-ttl': { type: 'string', description: 'election lease TTL: how long a dead leader blocks a key', default: durationText(ETCD.leaseTtlSeconds * 1000), placeholder: 'duration' },
    tracker: { type: 'list', description: 'tracker announce URL (repeatable; agents announce to all)', placeholder: 'url' },
    data: { type: 'string', description: 'data directory (objects, torrents, download records)', default: AGENT.dataDir, placeholder: 'dir' },
    'allow-host': { type: 'list', description: 'origin host allowed to be fetched: host, host:port or *.domain (repeatable)', placeholder: 'host' },
    'upload-limit': { type: 'string', description: 'upload cap for all torrents (0 = none)', default: String(AGENT.uploadLimit), placeholder: 'rate' },
    'download-limit': { type: 'string', description: 'download cap, peers and origin (0 = none)', default: String(AGENT.downloadLimit), placeholder: 'rate' },
    listen: { type: 'number', description: 'BitTorrent TCP port (0 = any free port)', default: AGENT.cliListenPort, placeholder: 'port' },
    'peer-host': { type: 'string', description: 'address the BitTorrent listener binds, e.g. the cluster interface (native engine; default: all interfaces, which peers elsewhere need)', placeholder: 'address' },
    'advertise-host': { type: 'string', description: 'host other agents dial this one at, registered in the index for when no tracker answers (default: --peer-host if it names one interface, else the first non-loopback IPv4)', placeholder: 'host' },
    'stall-timeout': { type: 'string', description: 'a follower with no new byte for this long fetches what it misses from the origin (back-to-source)', default: durationText(B2S.stallMs), placeholder: 'duration' },
    'swarm-deadline': { type: 'string', description: 'a follower not complete this long after it started goes back to the origin, progress or not', default: durationText(B2S.deadlineMs), placeholder: 'duration' },
    'back-to-source-max': { type: 'number', description: 'back-to-source fetches this agent runs at once (≥ 1)', default: B2S.maxConcurrent },
    'no-back-to-source': { type: 'boolean', description: 'never fetch from the origin as a follower: a download no peer serves in time fails with SWARM_STALLED' },
    'peer-idle-timeout': { type: 'string', description: 'close a peer connection of no use for this long (neither side interested, nothing in flight)', default: durationText(PEER.idleMs), placeholder: 'duration' },
    'peer-max-per-ip': { type: 'number', description: 'open incoming BitTorrent connections from one IP address', default: PEER.maxPerIp },
    'peer-ip-cap-exempt': { type: 'list', description: 'addresses the per-IP cap does not count (repeatable; "none" for none; loopback by default: a fleet on one host shares it)', default: [...PEER.perIpExempt], placeholder: 'ip' },
    'peer-max-per-torrent': { type: 'number', description: 'peer connections per torrent', default: PEER.maxPeersPerTorrent },
    'peer-encrypted-rate': { type: 'number', description: 'encrypted (MSE/PE) handshakes accepted per second, all peers together (0 = refuse them)', default: PEER.encryptedPerSecond },
    'peer-handshake-timeout': { type: 'string', description: 'time a peer has to complete its BitTorrent handshake', default: durationText(PEER.handshakeTimeoutMs), placeholder: 'duration' },
    'segment-time': { type: 'string', description: 'segments after the first hold at least this long of the leader\'s origin fetch, at the rate the first came in (never smaller than --segment-size; 0 = --segment-size alone)', default: durationText(AGENT.segmentSeconds * 1000), placeholder: 'duration' },
    'segment-size': { type: 'string', description: `objects larger than this are fetched and published in segments of this size, so peers start before the origin fetch ends (default: ${sizeText(AGENT.segmentSize.native)} with the native engine, ${sizeText(AGENT.segmentSize.aria2)} with aria2)`, placeholder: 'size' },
    'seed-time': { type: 'string', description: 'how long a finished object keeps seeding', default: durationText(AGENT.seedTimeMs), placeholder: 'duration' },
    'seed-ratio': { type: 'number', description: 'stop seeding earlier once uploaded ≥ ratio × size (0 = time only)', default: AGENT.seedRatio },
    engine: { type: 'string', description: 'BitTorrent engine: native (in-process, colony\'s piece scheduling) or aria2 (an aria2c child over JSON-RPC)', default: AGENT.engine },
    token: { type: 'string', description: 'bearer token required for POST/DELETE (and GET /v1/objects that starts a download)', env: 'COLONY_SWARM_TOKEN' },
    'agent-id': { type: 'string', description: 'identity in elections and logs (default: host-pid-random)' },
  },
  epilog: 'Example:\n  colony swarm agent --etcd http://10.0.0.5:2379 --tracker http://10.0.0.6:6969/announce \\\n'
    + '    --tracker http://10.0.0.7:6969/announce --allow-host images.internal --upload-limit 24MB/s',
})

export const GET_SPEC: CommandSpec = swarmEnv({
  name: 'colony swarm get',
  usage: '<url> [-o FILE] [--agent URL] [--sha256 HEX]',
  summary: 'Asks the local agent for the object, shows a progress bar on stderr, writes the file (via FILE.part, renamed when '
    + 'complete and verified). Exit 0 when the file is written and matches, 1 when the download failed.',
  options: {
    output: { type: 'string', short: 'o', description: 'output file (default: the URL\'s last path segment)', placeholder: 'file' },
    agent: { type: 'string', description: 'agent API URL', default: CLIENT.agentUrl, placeholder: 'url' },
    sha256: { type: 'string', description: 'expected SHA-256 of the object (hex)', placeholder: 'hex' },
    token: { type: 'string', description: 'agent bearer token', env: 'COLONY_SWARM_TOKEN' },
    timeout: { type: 'string', description: 'give up after this long (0 = never)', default: '0', placeholder: 'duration' },
    quiet: { type: 'boolean', short: 'q', description: 'no progress bar' },
  },
})

export const STATUS_SPEC: CommandSpec = swarmEnv({
  name: 'colony swarm status',
  usage: '[--agent URL] [--json]',
  summary: 'Lists the agent\'s downloads and seeds: state, role (leader fetched from the origin, peer from the swarm), progress, peers, rates.',
  options: {
    agent: { type: 'string', description: 'agent API URL', default: CLIENT.agentUrl, placeholder: 'url' },
    json: { type: 'boolean', description: 'print the raw JSON list' },
  },
})

export async function run(argv: string[]): Promise<number> {
  // Node's fetch() (the API clients, the aria2 RPC, the live relays) goes through this package's undici.
  installHttpDispatcher()
  const [sub, ...rest] = argv
  switch (sub) {
    case 'agent': return runAgent(rest)
    case 'get': return runGet(rest)
    case 'status': return runStatus(rest)
    case 'tracker': {
      const mod = await import('./swarm-tracker-command.ts')
      return mod.run(rest)
    }
    case undefined: case '--help': case '-h': case 'help':
      process.stdout.write(USAGE)
      return EXIT_OK
    default:
      throw new UsageError(`unknown swarm command "${sub}" (agent, get, status, tracker)`)
  }
}

function rateFlag(p: ReturnType<typeof parseCommand>, name: string): number {
  return parseRate(str(p, name) ?? '0')
}

function countFlag(p: ReturnType<typeof parseCommand>, name: string, min: number): number | undefined {
  const n = num(p, name)
  if (n !== undefined && !(Number.isInteger(n) && n >= min)) throw new UsageError(`--${name} wants a whole number ≥ ${min}, got ${n}`)
  return n
}

function durationFlag(p: ReturnType<typeof parseCommand>, name: string): number | undefined {
  const text = str(p, name)
  if (text === undefined) return undefined
  const ms = parseDuration(text)
  if (!(ms > 0)) throw new UsageError(`--${name} must be > 0`)
  return ms
}

/** The agent's --peer-* flags: where the BitTorrent listener binds and what one peer may hold. */
export function peerOptionsFrom(p: ReturnType<typeof parseCommand>): { peerHost?: string; peerLimits: Partial<PeerLimits> } {
  const peerHost = str(p, 'peer-host')
  if (peerHost !== undefined && (peerHost === '' || /[\s/]/.test(peerHost))) throw new UsageError(`--peer-host wants an address, got "${peerHost}"`)
  const limits: Partial<PeerLimits> = {
    idleMs: durationFlag(p, 'peer-idle-timeout'),
    maxPerIp: countFlag(p, 'peer-max-per-ip', 1),
    maxPeersPerTorrent: countFlag(p, 'peer-max-per-torrent', 1),
    encryptedPerSecond: countFlag(p, 'peer-encrypted-rate', 0),
    handshakeTimeoutMs: durationFlag(p, 'peer-handshake-timeout'),
    perIpExempt: list(p, 'peer-ip-cap-exempt').filter((a) => a !== 'none'),
  }
  const peerLimits = Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)) as Partial<PeerLimits>
  return { ...(peerHost === undefined ? {} : { peerHost }), peerLimits }
}

async function runAgent(argv: string[]): Promise<number> {
  const p = parseCommand(AGENT_SPEC, argv)
  if (p.help) { process.stdout.write(formatHelp(AGENT_SPEC)); return EXIT_OK }
  if (p.positionals.length) throw new UsageError(`unexpected argument "${p.positionals[0]}" (see ${AGENT_SPEC.name} --help)`)
  const api = parseHostPort(str(p, 'api') ?? `${AGENT.apiHost}:${AGENT.cliApiPort}`)
  const listenPort = num(p, 'listen') ?? AGENT.cliListenPort
  if (!Number.isInteger(listenPort) || listenPort < 0 || listenPort > 65535) throw new UsageError('--listen wants a port 0-65535')
  const seedRatio = num(p, 'seed-ratio') ?? AGENT.seedRatio
  if (seedRatio < 0) throw new UsageError('--seed-ratio must be ≥ 0')
  const trackers = list(p, 'tracker')
  for (const t of trackers) if (!/^(https?|udp):\/\//.test(t)) throw new UsageError(`--tracker wants an announce URL, got "${t}"`)
  const log = createLogger({ name: 'swarm-agent' })
  const etcd = list(p, 'etcd')
  const allowHosts = list(p, 'allow-host')
  if (allowHosts.length === 0) log.warn('no --allow-host given: every download will be refused')
  const index = etcd.length
    ? createEtcdIndex({ hosts: etcd, prefix: str(p, 'etcd-prefix') ?? ETCD.prefix, leaseTtlSeconds: Math.max(1, Math.round(parseDuration(str(p, 'lease-ttl') ?? durationText(ETCD.leaseTtlSeconds * 1000)) / 1000)) })
    : undefined
  const segmentArg = str(p, 'segment-size')
  const segmentSize = segmentArg === undefined ? undefined : parseSize(segmentArg)
  if (segmentSize !== undefined && !(segmentSize > 0)) throw new UsageError('--segment-size must be > 0')
  const segmentSeconds = parseDuration(str(p, 'segment-time') ?? durationText(AGENT.segmentSeconds * 1000)) / 1000
  if (!(segmentSeconds >= 0)) throw new UsageError('--segment-time must be a duration ≥ 0')
  const engine = (str(p, 'engine') ?? AGENT.engine) as EngineKind
  if (engine !== 'aria2' && engine !== 'native') throw new UsageError('--engine is native or aria2')
  const agentId = str(p, 'agent-id')
  const token = str(p, 'token')
  const [apiMaxActive, apiStartRate, apiStartBurst] = (['api-max-active', 'api-start-rate', 'api-start-burst'] as const).map((f) => {
    const v = num(p, f) ?? 0
    const min = f === 'api-start-burst' ? 1 : 0
    if (!(v >= min)) throw new UsageError(`--${f} must be ≥ ${min}`)
    return v
  })

  const advertiseHost = str(p, 'advertise-host')
  if (advertiseHost !== undefined && (advertiseHost === '' || /[\s/]/.test(advertiseHost))) throw new UsageError(`--advertise-host wants a host, got "${advertiseHost}"`)
  const backToSource = {
    backToSource: !bool(p, 'no-back-to-source'),
    stallTimeoutMs: durationFlag(p, 'stall-timeout') ?? B2S.stallMs,
    swarmDeadlineMs: durationFlag(p, 'swarm-deadline') ?? B2S.deadlineMs,
    backToSourceMax: countFlag(p, 'back-to-source-max', 1) ?? B2S.maxConcurrent,
    ...(advertiseHost === undefined ? {} : { advertiseHost }),
  }
  const peers = peerOptionsFrom(p)
  if (peers.peerHost !== undefined && engine !== 'native') throw new UsageError('--peer-host needs --engine native')
  const agent = await startAgent({
    ...peers, ...backToSource,
    dataDir: str(p, 'data') ?? AGENT.dataDir,
    allowHosts, trackers, listenPort, seedRatio, engine, ...(segmentSize === undefined ? {} : { segmentSize }), segmentSeconds, logger: log,
    apiHost: api.host, apiPort: api.port, apiAllowedHosts: list(p, 'api-allowed-host'), apiMaxActive, apiStartRate, apiStartBurst,
    uploadLimit: rateFlag(p, 'upload-limit'), downloadLimit: rateFlag(p, 'download-limit'),
    seedTimeMs: parseDuration(str(p, 'seed-time') ?? durationText(AGENT.seedTimeMs)),
    ...(index ? { index } : {}), ...(agentId ? { agentId } : {}), ...(token ? { token } : {}),
  })
  process.stdout.write(`${agent.url}\n`)
  await new Promise<void>((resolve) => {
    const stop = (): void => { process.off('SIGINT', stop); process.off('SIGTERM', stop); resolve() }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
  log.info('shutting down')
  await agent.close()
  if (index) await index.close()
  return EXIT_OK
}

async function runGet(argv: string[]): Promise<number> {
  const p = parseCommand(GET_SPEC, argv)
  if (p.help) { process.stdout.write(formatHelp(GET_SPEC)); return EXIT_OK }
  const [url, extra] = p.positionals
  if (!url || extra) throw new UsageError(`want exactly one URL (see ${GET_SPEC.name} --help)`)
  let u: URL
  try { u = new URL(url) } catch { throw new UsageError(`not a URL: "${url}"`) }
  const sha256 = str(p, 'sha256')?.toLowerCase()
  if (sha256 !== undefined && !/^[0-9a-f]{64}$/.test(sha256)) throw new UsageError('--sha256 wants 64 hex characters')
  const out = path.resolve(str(p, 'output') ?? (u.pathname.split('/').filter(Boolean).pop() || 'object'))
  const token = str(p, 'token')
  const timeoutMs = parseDuration(str(p, 'timeout') ?? '0')
  const opts = { agent: str(p, 'agent') ?? CLIENT.agentUrl, ...(token ? { token } : {}) }
  const quiet = bool(p, 'quiet') || !process.stderr.isTTY && process.env.COLONY_PROGRESS !== '1'

  let bar: Bar | undefined
  try {
    const started = await requestDownload(u.href, { ...opts, ...(sha256 ? { sha256 } : {}) })
    if (!quiet) {
      const { SingleBar, Presets } = cliProgress
      bar = new SingleBar({ stream: process.stderr, format: ' {bar} {percentage}% | {done}/{size} | {state} {role} | {speed}/s | {peers} peers', hideCursor: true }, Presets.shades_classic)
      bar.start(started.length ?? 1, 0, payload(started))
    }
    const done = await waitForDownload(started.id, {
      ...opts, intervalMs: CLIENT.cliPollIntervalMs, ...(timeoutMs ? { timeoutMs } : {}),
      onProgress: (d) => { if (bar) { if (d.length) bar.setTotal(d.length); bar.update(d.bytes.done, payload(d)) } },
    })
    bar?.update(done.length ?? done.bytes.done, payload(done))
    bar?.stop()
    bar = undefined
    // Copy the verified object out of the agent, checking it again on the way.
    const res = await fetchObject(u.href, opts)
    if (!res.body) throw new SwarmError('SWARM_ENGINE_FAILED', 'agent sent no body')
    const part = `${out}.part`
    const { sink, sha256: digest } = createHashingFileSink(part)
    await pipeline(res.body as unknown as AsyncIterable<Uint8Array>, sink)
    const actual = digest()
    const expected = sha256 ?? done.sha256
    if (expected && actual !== expected) {
      await rm(part, { force: true })
      throw new SwarmError('SWARM_SHA256_MISMATCH', `written file has sha256 ${actual}, expected ${expected}`)
    }
    await rename(part, out)
    process.stderr.write(`colony: wrote ${out} (${formatBytes(done.length ?? 0)}, ${done.role === 'leader' ? 'from the origin' : 'from peers'}, sha256 ${actual})\n`)
    return EXIT_OK
  } catch (err) {
    bar?.stop()
    if (err instanceof ColonyError && err.code !== 'COLONY_USAGE') {
      process.stderr.write(`colony: ${err.code}: ${err.message}\n`)
      return EXIT_FAILURE
    }
    throw err
  }
}

function payload(d: DownloadInfo): Record<string, unknown> {
  return { state: d.state, role: d.role ?? '', done: formatBytes(d.bytes.done), size: formatBytes(d.length ?? 0), speed: formatBytes(d.rate.down), peers: d.peers }
}

async function runStatus(argv: string[]): Promise<number> {
  const p = parseCommand(STATUS_SPEC, argv)
  if (p.help) { process.stdout.write(formatHelp(STATUS_SPEC)); return EXIT_OK }
  const downloads = await listDownloads({ agent: str(p, 'agent') ?? CLIENT.agentUrl })
  if (bool(p, 'json')) { process.stdout.write(`${JSON.stringify(downloads, null, 2)}\n`); return EXIT_OK }
  if (downloads.length === 0) { process.stdout.write('no downloads\n'); return EXIT_OK }
  const rows = downloads.map((d) => [
    d.id, d.state, d.role ?? '-',
    d.length ? `${Math.floor((d.bytes.done / d.length) * 100)}%` : '-',
    formatBytes(d.length ?? 0), `${d.peers}`, `${formatBytes(d.rate.down)}/s`, `${formatBytes(d.rate.up)}/s`,
    formatBytes(d.bytes.fromOrigin), formatBytes(d.bytes.fromPeers), formatBytes(d.bytes.uploaded),
    d.error ? `${d.error.code}` : d.url,
  ])
  const head = ['ID', 'STATE', 'ROLE', 'DONE', 'SIZE', 'PEERS', 'DOWN', 'UP', 'ORIGIN', 'PEER-IN', 'UPLOADED', 'URL/ERROR']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (r: string[]): string => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')
  process.stdout.write(`${[line(head), ...rows.map(line)].join('\n')}\n`)
  return downloads.some((d) => d.state === 'failed') ? EXIT_FAILURE : EXIT_OK
}
