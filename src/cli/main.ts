// The `colony` entry: dispatches to a subsystem's command module, turns errors into one line + exit code.
import { readFileSync } from 'node:fs'
import { describeError, isColonyError } from '../shared/errors.ts'
import { EXIT_FAILURE, EXIT_USAGE } from './exit-codes.ts'

type CommandModule = { run: (argv: string[]) => Promise<number> }

const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  transfer: { summary: 'copy and keep in sync an HLS library (HTTP, S3, directory → S3, directory)', load: () => import('./transfer-command.ts') },
  swarm: { summary: 'agent, trackers and client that turn any HTTP object into a BitTorrent swarm', load: () => import('./swarm-command.ts') },
  live: { summary: 'Server-Sent Events fan-out of likes and comments (serve, publish, subscribe, token)', load: () => import('./live-command.ts') },
  demo: { summary: 'run every subsystem on embedded defaults against local sample servers', load: () => import('./demo-command.ts') },
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  return [
    'Usage: colony <command> [options]', '',
    'Moves a video platform\'s bytes and events at scale.', '', 'Commands:', ...rows, '',
    'Run `colony <command> --help` for a command\'s options. Every flag can also be set as COLONY_<FLAG> in the environment.',
    'Exit codes: 0 success, 1 the job failed (something missing or unverified), 2 usage error.', '',
  ].join('\n')
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') { process.stdout.write(usage()); return 0 }
  if (name === '--version' || name === '-v' || name === 'version') { process.stdout.write(`${version()}\n`); return 0 }
  const cmd = COMMANDS[name]
  if (!cmd) { process.stderr.write(`colony: unknown command "${name}" (see colony --help)\n`); return EXIT_USAGE }
  const mod = await cmd.load()
  return mod.run(rest)
}

try {
  process.exitCode = await main(process.argv.slice(2))
} catch (err) {
  process.stderr.write(`colony: ${describeError(err)}\n`)
  if (process.env.COLONY_DEBUG) process.stderr.write(`${(err as Error).stack ?? ''}\n`)
  process.exitCode = isColonyError(err) && err.code === 'COLONY_USAGE' ? EXIT_USAGE : EXIT_FAILURE
}
