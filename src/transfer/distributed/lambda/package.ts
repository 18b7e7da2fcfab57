// `colony transfer lambda package`: the deployable zip of colony's copier handler. esbuild bundles the handler and
// every module and package it imports into one ES module, index.mjs (runtime nodejs24.x, or nodejs22.x ≥ 22.19),
// so the function carries exactly the code it runs and no node_modules.
import { writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { siblingModule } from '../../../shared/module-url.ts'
import { DistributedTransferError } from '../errors.ts'
import { createZip, type ZipEntry } from './zip-writer.ts'

export type LambdaPackageOptions = {
  /** Zip to write. */
  out: string
}

/** CommonJS packages in the bundle call require() for Node's built-ins: an ES module has none of its own. */
const BANNER = "import { createRequire as __colonyCreateRequire } from 'node:module'; const require = __colonyCreateRequire(import.meta.url);"

/** The npm package a bundled input file belongs to (`node_modules/@scope/name/…` or `node_modules/name/…`). */
export function packageOf(input: string): string | undefined {
  const parts = input.split('/')
  const at = parts.lastIndexOf('node_modules')
  if (at < 0) return undefined
  const first = parts[at + 1]
  if (!first) return undefined
  return first.startsWith('@') ? `${first}/${parts[at + 2] ?? ''}` : first
}

export async function buildLambdaPackage(options: LambdaPackageOptions): Promise<{ out: string; files: number; bytes: number; packages: string[] }> {
  const entry = fileURLToPath(siblingModule(import.meta.url, 'handler'))
  let result
  try {
    result = await build({
      entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node22',
      outfile: 'index.mjs', write: false, metafile: true, legalComments: 'none', banner: { js: BANNER }, logLevel: 'silent',
    })
  } catch (err) {
    throw new DistributedTransferError('TRANSFER_DIST_PACKAGE', `cannot bundle the Lambda handler: ${(err as Error).message}`, { cause: err })
  }
  const code = result.outputFiles.find((f) => f.path.endsWith('index.mjs'))
  if (!code) throw new DistributedTransferError('TRANSFER_DIST_PACKAGE', 'esbuild produced no index.mjs')
  const packages = [...new Set(Object.keys(result.metafile.inputs).map(packageOf).filter((p): p is string => p !== undefined))].sort()
  const entries: ZipEntry[] = [
    { name: 'index.mjs', data: Buffer.from(code.contents) },
    { name: 'package.json', data: Buffer.from(JSON.stringify({ name: 'colony-transfer-lambda', private: true, type: 'module' }, null, 2)) },
  ]
  const zip = createZip(entries)
  await writeFile(options.out, zip)
  return { out: options.out, files: entries.length, bytes: zip.length, packages }
}
