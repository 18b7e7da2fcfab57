// Builds the published package: tsc emits dist/ (JavaScript, declarations, source maps) from src/, and every
// file of src/ that is not TypeScript (Redis Lua scripts, pages) is copied beside its module.
import { execFileSync } from 'node:child_process'
import { cpSync, readdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const src = path.join(root, 'src')
const dist = path.join(root, 'dist')

rmSync(dist, { recursive: true, force: true })
execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' })
let copied = 0
for (const entry of readdirSync(src, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || entry.name.endsWith('.ts')) continue
  const from = path.join(entry.parentPath, entry.name)
  cpSync(from, path.join(dist, path.relative(src, from)))
  copied++
}
process.stdout.write(`dist/ built (${copied} asset file${copied === 1 ? '' : 's'} copied)\n`)
