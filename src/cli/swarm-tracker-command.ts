// `colony swarm tracker`: one BitTorrent tracker (HTTP + UDP); run two or more, agents announce to all.
import { formatHelp, num, parseCommand, str, bool, type CommandSpec } from '../shared/cli-options.ts'
import { UsageError } from '../shared/errors.ts'
import { createLogger } from '../shared/logger.ts'
import { parseDuration } from '../shared/units.ts'
import { SWARM_DEFAULTS } from '../swarm/defaults.ts'
import { startTracker } from '../swarm/tracker/start-tracker.ts'
import { durationText } from './swarm-command.ts'
import { EXIT_OK } from './exit-codes.ts'

const TRACKER = SWARM_DEFAULTS.tracker

export const TRACKER_SPEC: CommandSpec = {
  name: 'colony swarm tracker',
  usage: '[--port PORT] [--host HOST] [--udp-port PORT]',
  summary: 'Runs a BitTorrent tracker: HTTP announce/scrape plus /healthz and /metrics on --port, UDP announce on --udp-port. '
    + 'Run two or more and give every agent all of them (--tracker, repeatable): agents keep working while any one is down. '
    + 'Prints its announce URLs on stdout, one a line, and runs until SIGINT/SIGTERM.',
  options: {
    port: { type: 'number', short: 'p', description: 'HTTP port (0 = any free port)', default: TRACKER.cliPort, env: 'COLONY_TRACKER_PORT' },
    host: { type: 'string', description: 'address to bind (HTTP and UDP)', default: TRACKER.host, env: 'COLONY_TRACKER_HOST' },
    'udp-port': { type: 'number', description: 'UDP port (default: the HTTP port number, or any free one if that is taken)', env: 'COLONY_TRACKER_UDP_PORT' },
    udp: { type: 'boolean', description: 'also answer UDP announces (--no-udp: HTTP only)', default: true, env: 'COLONY_TRACKER_UDP' },
    interval: { type: 'string', description: 're-announce interval told to clients', default: durationText(TRACKER.intervalMs), env: 'COLONY_TRACKER_INTERVAL', placeholder: 'duration' },
  },
  epilog: 'Example:\n  colony swarm tracker --port 6969 &\n  colony swarm tracker --port 6970 &\n'
    + '  colony swarm agent --tracker http://127.0.0.1:6969/announce --tracker http://127.0.0.1:6970/announce',
}

function checkPort(value: number | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new UsageError(`--${flag} wants a port 0-65535, got ${value}`)
  return value
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(TRACKER_SPEC, argv)
  if (parsed.help) { process.stdout.write(formatHelp(TRACKER_SPEC)); return EXIT_OK }
  if (parsed.positionals.length > 0) throw new UsageError(`unexpected argument "${parsed.positionals[0]}" (see ${TRACKER_SPEC.name} --help)`)
  const port = checkPort(num(parsed, 'port'), 'port') ?? TRACKER.cliPort
  const udpPort = checkPort(num(parsed, 'udp-port'), 'udp-port')
  const intervalMs = parseDuration(str(parsed, 'interval') ?? durationText(TRACKER.intervalMs))
  if (intervalMs < 1000) throw new UsageError('--interval must be at least 1s')

  const logger = createLogger({ name: 'swarm-tracker' })
  const tracker = await startTracker({
    host: str(parsed, 'host') ?? TRACKER.host, port, intervalMs, logger,
    udpPort: bool(parsed, 'udp') ? udpPort : false,
  })
  process.stdout.write(`${tracker.announceUrls.join('\n')}\n`)

  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      logger.info({ signal }, 'tracker stopping')
      resolve()
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
  await tracker.close()
  logger.flush()
  return EXIT_OK
}
