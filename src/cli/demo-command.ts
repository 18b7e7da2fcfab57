// `colony demo`: every subsystem on embedded defaults against local sample servers, no services needed.
import path from 'node:path'
import { UsageError } from '../shared/errors.ts'
import { formatHelp, bool, list, parseCommand, str, type CommandSpec } from '../shared/cli-options.ts'
import { EXIT_FAILURE, EXIT_OK } from './exit-codes.ts'
import { installHttpDispatcher } from '../shared/http-dispatcher.ts'

const PARTS = ['transfer', 'swarm', 'live'] as const
type Part = (typeof PARTS)[number]

const spec: CommandSpec = {
  name: 'colony demo',
  usage: '[--only transfer,swarm,live] [--out DIR]',
  summary: 'Starts local sample servers and runs each subsystem against them: transfer copies a generated HLS library to ./colony-demo/, swarm spreads an object over several agents from one origin download, live fans likes and comments out over SSE.',
  options: {
    only: { type: 'list', description: 'run only these parts (transfer, swarm, live)', placeholder: 'parts' },
    out: { type: 'string', description: 'where the transfer demo writes the copied library', default: 'colony-demo', placeholder: 'dir' },
    json: { type: 'boolean', description: 'print NDJSON progress instead of a progress bar' },
  },
}

export async function run(argv: string[]): Promise<number> {
  // Node's fetch() (the API clients, the aria2 RPC, the live relays) goes through this package's undici.
  installHttpDispatcher()
  const parsed = parseCommand(spec, argv)
  if (parsed.help) { process.stdout.write(formatHelp(spec)); return EXIT_OK }
  const only = list(parsed, 'only').flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean)
  for (const p of only) if (!PARTS.includes(p as Part)) throw new UsageError(`--only: unknown part "${p}" (transfer, swarm, live)`)
  const parts = only.length ? PARTS.filter((p) => only.includes(p)) : [...PARTS]
  const log = (line: string): void => { process.stdout.write(`${line}\n`) }
  const results: Array<[Part, boolean]> = []
  for (const part of parts) {
    log(`\n=== colony demo: ${part} ===`)
    let ok = false
    if (part === 'transfer') {
      const { runTransferDemo } = await import('../demo/transfer.ts')
      ok = (await runTransferDemo({ outDir: path.resolve(str(parsed, 'out') ?? 'colony-demo'), log, json: bool(parsed, 'json') })).ok
    } else if (part === 'swarm') {
      const { runSwarmDemo } = await import('../demo/swarm.ts')
      ok = (await runSwarmDemo({ log })).ok
    } else {
      const { runLiveDemo } = await import('../demo/live.ts')
      ok = (await runLiveDemo({ log })).ok
    }
    results.push([part, ok])
  }
  log('\n=== summary ===')
  for (const [part, ok] of results) log(`  ${part.padEnd(9)} ${ok ? 'ok' : 'FAILED'}`)
  return results.every(([, ok]) => ok) ? EXIT_OK : EXIT_FAILURE
}
