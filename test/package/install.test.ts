// The published package: `npm pack` gives a tarball that installs into an empty project and globally, and there
// the `colony` command, `colony transfer` and `import … from 'colony/transfer'` work without TypeScript.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { makeTempDir } from '../../support/services.ts'

const run = promisify(execFile)
const REPO = fileURLToPath(new URL('../../', import.meta.url))
const NODE_BIN = path.dirname(process.execPath)

/** Runs a command with this Node first on PATH (npm's scripts and the installed `colony` use it). */
async function sh(cmd: string, args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${NODE_BIN}${path.delimiter}${process.env.PATH ?? ''}`, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' }
  for (const k of Object.keys(env)) if (k.startsWith('COLONY_')) delete env[k]
  return run(cmd, args, { cwd, env, maxBuffer: 16 * 1024 * 1024, timeout: 240_000 })
}

test('npm pack installs into an empty project and globally; the CLI and the subsystem entries work there', { timeout: 600_000 }, async () => {
  const work = await makeTempDir('colony-pack-')
  const { stdout: packed } = await sh('npm', ['pack', '--json', '--pack-destination', work], REPO)
  const [info] = JSON.parse(packed.slice(packed.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>
  assert.ok(info)
  const shipped = info.files.map((f) => f.path)
  assert.ok(shipped.includes('dist/cli/main.js'), 'the tarball carries the built CLI')
  assert.ok(!shipped.some((f) => f.startsWith('src/') || f.startsWith('test/')), 'no sources or tests are shipped')
  const tarball = path.join(work, info.filename)

  const project = path.join(work, 'project')
  await mkdir(project)
  await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', type: 'module', private: true }))
  // colony runs no install script; a transitive dependency of bittorrent-tracker (node-datachannel, which colony
  // never loads) downloads a binary from GitHub in its own, which this machine cannot reach.
  await sh('npm', ['install', '--ignore-scripts', tarball], project)

  const help = await sh(path.join(project, 'node_modules/.bin/colony'), ['--help'], project)
  assert.match(help.stdout, /colony <command>/)

  // colony transfer from a directory to a directory, every file verified.
  const lib = path.join(work, 'library', 'vod', 'a')
  await mkdir(lib, { recursive: true })
  await writeFile(path.join(lib, 'index.m3u8'), '#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nseg0.ts\n#EXTINF:4,\nseg1.ts\n#EXT-X-ENDLIST\n')
  await writeFile(path.join(lib, 'seg0.ts'), Buffer.alloc(1000, 1))
  await writeFile(path.join(lib, 'seg1.ts'), Buffer.alloc(2000, 2))
  const out = path.join(work, 'out')
  await sh(path.join(project, 'node_modules/.bin/colony'), ['transfer', path.join(work, 'library'), '--to', out, '--state', path.join(work, 'state')], project)
  const copied = await readdir(path.join(out, 'vod', 'a'))
  assert.deepEqual(copied.sort(), ['index.m3u8', 'seg0.ts', 'seg1.ts'])
  assert.deepEqual(await readFile(path.join(out, 'vod', 'a', 'seg1.ts')), Buffer.alloc(2000, 2))

  await writeFile(path.join(project, 'probe.js'), [
    "import * as transfer from 'colony/transfer'",
    "import * as swarm from 'colony/swarm'",
    "import * as live from 'colony/live'",
    "import { ColonyError } from 'colony'",
    "console.log(JSON.stringify({ transfer: typeof transfer.runTransfer, swarm: Object.keys(swarm).length, live: Object.keys(live).length, error: typeof ColonyError }))",
  ].join('\n'))
  const probe = JSON.parse((await sh(process.execPath, ['probe.js'], project)).stdout) as Record<string, unknown>
  assert.deepEqual(probe.transfer, 'function')
  assert.ok((probe.swarm as number) > 0 && (probe.live as number) > 0)
  assert.equal(probe.error, 'function')

  const prefix = path.join(work, 'global')
  await sh('npm', ['install', '--ignore-scripts', '--global', '--prefix', prefix, tarball], work)
  const globalHelp = await sh(path.join(prefix, 'bin/colony'), ['transfer', '--help'], work)
  assert.match(globalHelp.stdout, /colony transfer/)
})
