#!/usr/bin/env node
// colony's source is TypeScript run by Node's type stripping (Node >= 23.6 by default, 22.6+ behind a flag).
import { spawnSync } from 'node:child_process'
import module from 'node:module'
import { fileURLToPath } from 'node:url'

// Node's compile cache keeps the type-stripped, compiled module graph on disk ($TMPDIR/node-compile-cache, or
// NODE_COMPILE_CACHE): every command starts in about half the time from its second run on.
module.enableCompileCache?.()

const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url))
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number)
if (process.features.typescript) {
  await import(main)
} else if (major > 22 || (major === 22 && minor >= 6)) {
  const r = spawnSync(process.execPath, ['--experimental-strip-types', '--no-warnings', main, ...process.argv.slice(2)], { stdio: 'inherit' })
  process.exit(r.status ?? 1)
} else {
  process.stderr.write(`colony: needs Node >= 22.6 (this is ${process.version}); run it with npx colony, which uses the Node 24 that npm install brings\n`)
  process.exit(2)
}
