// `colony transfer check <source…> --to <dest>`: compares sources and destination without copying (like
// `rclone check`), on any destination (no journal needed). Exit 0 identical, 1 something differs, 2 usage error.
import { writeFile } from 'node:fs/promises'
import { bool, formatHelp, num, parseCommand, str, type CommandSpec } from '../shared/cli-options.ts'
import { describeError } from '../shared/errors.ts'
import { TRANSFER_DEFAULTS } from '../transfer/defaults.ts'
import { TransferError, TRANSFER_CODES } from '../transfer/errors.ts'
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit-codes.ts'
import { EXIT_INTERRUPTED, parseSourceArgs, positiveInt, TRANSFER_SPEC } from './transfer-command.ts'
import type { CheckOptions } from '../transfer/embedded/check.ts'

const SHARED = ['to', 'catalog', 'allow-host', 'strip-prefix', 'report', 's3-endpoint', 's3-region', 'max-playlist-size', 'max-files-per-class', 'max-depth'] as const

export const CHECK_SPEC: CommandSpec = {
  name: 'colony transfer check',
  usage: '<source…> --to <dest> [options]',
  summary: [
    'Compares what the sources reference with what the destination holds, copying nothing and needing no journal',
    '(the destination may have been written by rclone, cp or aws s3 sync). Per class it lists the files missing at the',
    'destination, the files that differ (size; MD5 where the destination keeps one, S3 single-part ETags, or with',
    '--checksum), and the extra files under the class\'s destination prefix that no checked class references.',
  ].join('\n'),
  options: {
    ...Object.fromEntries(SHARED.map((k) => [k, TRANSFER_SPEC.options[k]])),
    'allow-incomplete': { type: 'boolean', description: 'compare classes without EXT-X-ENDLIST instead of skipping them as recording' },
    'rewrite-uri': { type: 'list', description: 'compare playlists as `colony transfer --rewrite-uri FROM=TO` wrote them (repeatable)', placeholder: 'FROM=TO' },
    checksum: { type: 'boolean', description: 'hash every source body and every file a directory destination holds; --no-checksum: sizes only, no body read (default: MD5 where the destination keeps one, S3 single-part ETags)' },
    concurrency: { type: 'number', description: 'files compared at once', default: TRANSFER_DEFAULTS.check.concurrency },
    json: { type: 'boolean', description: 'NDJSON on stdout: one line per finding ({"type":"missing"|"differs"|"extra"|"error",…}), then {"type":"done","report":…}' },
  },
  epilog: [
    'Extra files: for a playlist class, the prefix is the directory of its entry playlist\'s key (v/123/ for',
    'https://cdn/v/123/master.m3u8); for an s3:// source the listed prefix; for a directory source the destination root.',
    'A stored file there that no playlist of the class references is extra, unless it lies under the prefix of another',
    'class being checked. Classes skipped at the source (recording, aborted…) are listed, not compared.',
    '',
    'Examples:',
    '  colony transfer check https://cdn.example.com/v/123/master.m3u8 --to ./copy',
    '  colony transfer check --catalog classes.ndjson --to s3://new-bucket/hls --checksum --report check.json',
    '  colony transfer check --catalog classes.ndjson --to ./copy --rewrite-uri https://old-cdn.example.com/=https://new-cdn.example.com/',
    '',
    'Exit codes: 0 identical; 1 something is missing, differs, is extra or could not be read; 2 usage error; 130 interrupted.',
  ].join('\n'),
}

/** Parses argv into runCheck options (UsageError → exit 2). */
export function parseCheckArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): { options: CheckOptions; json: boolean; report?: string; help: boolean } {
  const p = parseCommand(CHECK_SPEC, argv, env)
  if (p.help) return { options: { sources: [], to: '' }, json: false, help: true }
  const options: CheckOptions = {
    ...parseSourceArgs(p, 'colony transfer check'),
    ...(typeof p.values.checksum === 'boolean' ? { checksum: p.values.checksum } : {}),
    concurrency: positiveInt(num(p, 'concurrency'), 'concurrency', 1) ?? TRANSFER_DEFAULTS.check.concurrency,
  }
  const report = str(p, 'report')
  return { options, json: bool(p, 'json'), ...(report ? { report } : {}), help: false }
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCheckArgs(argv)
  if (parsed.help) { process.stdout.write(formatHelp(CHECK_SPEC)); return EXIT_OK }
  const [{ runCheck }, { formatCheckSummary }] = await Promise.all([import('../transfer/embedded/check.ts'), import('../transfer/core/check/check-report.ts')])
  const controller = new AbortController()
  const onSignal = (): void => { controller.abort(new TransferError(TRANSFER_CODES.ABORTED, 'interrupted')) }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const line = (o: object): void => { process.stdout.write(`${JSON.stringify(o)}\n`) }
  try {
    const report = await runCheck({
      ...parsed.options, signal: controller.signal,
      ...(parsed.json ? { onItem: (item) => line(item) } : {}),
    })
    if (parsed.report) await writeFile(parsed.report, `${JSON.stringify(report, null, 2)}\n`)
    if (parsed.json) line({ type: 'done', report })
    else process.stdout.write(formatCheckSummary(report))
    return report.identical ? EXIT_OK : EXIT_FAILURE
  } catch (err) {
    if (controller.signal.aborted) { process.stderr.write('colony transfer check: interrupted\n'); return EXIT_INTERRUPTED }
    if (err instanceof TransferError && (err.code === TRANSFER_CODES.BAD_CATALOG || err.code === TRANSFER_CODES.BAD_LOCATOR)) {
      process.stderr.write(`colony transfer check: ${describeError(err)}\n`)
      return EXIT_USAGE
    }
    throw err
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
