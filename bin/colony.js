#!/usr/bin/env node
// The `colony` command. In a checkout it runs the TypeScript source with Node's type stripping; an installed
// package (no src/, or src/ under node_modules, where Node strips no types) runs the JavaScript in dist/.
import { existsSync } from 'node:fs'
import module from 'node:module'
import { fileURLToPath } from 'node:url'

// Node's compile cache keeps the compiled module graph on disk ($TMPDIR/node-compile-cache, or
// NODE_COMPILE_CACHE): every command starts in about half the time from its second run on.
module.enableCompileCache?.()

const source = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url))
const built = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url))
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number)
const fromSource = existsSync(source) && !source.split(/[\\/]/).includes('node_modules')

if (!fromSource && existsSync(built)) {
  await import(built)
} else if (!fromSource) {
  process.stderr.write('colony: dist/ is missing; run `npm run build` in the package\n')
  process.exit(2)
} else if (process.features.typescript) {
  await import(source)
} else if (major > 22 || (major === 22 && minor >= 6)) {
  const { spawnSync } = await import('node:child_process')
  const r = spawnSync(process.execPath, ['--experimental-strip-types', '--no-warnings', source, ...process.argv.slice(2)], { stdio: 'inherit' })
  process.exit(r.status ?? 1)
} else {
  process.stderr.write(`colony: needs Node >= 22.6 to run from source (this is ${process.version}); run it with npx colony, which uses the Node 24 that npm install brings\n`)
  process.exit(2)
}
