// `colony transfer lambda package`: the deployable zip of colony's copier handler — colony's src/shared and
// src/transfer (run by Node's type stripping: runtime nodejs24.x, or nodejs22.x ≥ 22.19), an index.mjs
// entry, and the node_modules closure of the packages that code imports.
import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { DistributedTransferError } from '../errors.ts'
import { createZip, type ZipEntry } from './zip-writer.ts'

export type LambdaPackageOptions = {
  /** Zip to write. */
  out: string
  /** colony's package root. @defaultValue the one this file belongs to */
  root?: string
}

const ENTRY = `// colony transfer Lambda entry: handler = index.handler
export { handler } from './src/transfer/distributed/lambda/handler.ts'
`

async function walk(dir: string, skip: (rel: string) => boolean, base = dir): Promise<string[]> {
  const out: string[] = []
  for (const d of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, d.name)
    const rel = path.relative(base, full)
    if (skip(rel)) continue
    if (d.isDirectory()) out.push(...await walk(full, skip, base))
    else if (d.isFile()) out.push(full)
  }
  return out
}

/** Bare package names imported by the given sources (node: builtins excluded). */
export function importedPackages(code: string): string[] {
  const names = new Set<string>()
  for (const m of code.matchAll(/(?:from|import)\s*\(?\s*['"]([^'".][^'"]*)['"]/g)) {
    const spec = m[1] as string
    if (spec.startsWith('node:')) continue
    const parts = spec.split('/')
    names.add(spec.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] as string))
  }
  return [...names]
}

/** The installed dependency closure of `roots` (flat, hoisted node_modules). */
async function dependencyClosure(root: string, roots: string[]): Promise<string[]> {
  const seen = new Set<string>()
  const todo = [...roots]
  while (todo.length) {
    const name = todo.pop() as string
    if (seen.has(name)) continue
    let pkg: { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>; peerDependencies?: Record<string, string> }
    try {
      pkg = JSON.parse(await readFile(path.join(root, 'node_modules', name, 'package.json'), 'utf8')) as typeof pkg
    } catch {
      continue // optional dependency not installed on this platform
    }
    seen.add(name)
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) todo.push(dep)
  }
  return [...seen].sort()
}

export async function buildLambdaPackage(options: LambdaPackageOptions): Promise<{ out: string; files: number; bytes: number; packages: string[] }> {
  const root = options.root ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..')
  const srcFiles: string[] = []
  for (const sub of ['src/shared', 'src/transfer']) {
    srcFiles.push(...await walk(path.join(root, sub), (rel) => /\.test\.ts$/.test(rel)))
  }
  const code = (await Promise.all(srcFiles.filter((f) => f.endsWith('.ts')).map((f) => readFile(f, 'utf8')))).join('\n')
  // Redis, the dashboard and metrics never run inside the function; prom-client/ioredis stay out when unused there.
  const packages = await dependencyClosure(root, importedPackages(code))
  const entries: ZipEntry[] = [
    { name: 'index.mjs', data: Buffer.from(ENTRY) },
    { name: 'package.json', data: Buffer.from(JSON.stringify({ name: 'colony-transfer-lambda', private: true, type: 'module' }, null, 2)) },
  ]
  for (const f of srcFiles) entries.push({ name: path.relative(root, f).split(path.sep).join('/'), data: await readFile(f) })
  for (const name of packages) {
    const dir = path.join(root, 'node_modules', name)
    const files = await walk(dir, () => false)
    for (const f of files) {
      const st = await stat(f)
      entries.push({ name: path.relative(root, f).split(path.sep).join('/'), data: await readFile(f), mode: 0o100000 | (st.mode & 0o777) })
    }
  }
  if (!entries.some((e) => e.name === 'src/transfer/distributed/lambda/handler.ts')) {
    throw new DistributedTransferError('TRANSFER_DIST_PACKAGE', `lambda handler not found under ${root}`)
  }
  const zip = createZip(entries)
  await writeFile(options.out, zip)
  return { out: options.out, files: entries.length, bytes: zip.length, packages }
}
