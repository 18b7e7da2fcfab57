// The floor under any Node copier on this machine: undici GET → one buffer → fs.writeFile, N in flight, no
// crawl, journal or verification. Run by run.ts next to colony so both see the same machine load.
//   node bench/transfer/node-baseline.ts <base-url> <paths-file> <out-dir> [concurrency]
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { Agent, request } from 'undici'

const [base = '', pathsFile = '', outDir = '', conc = '16'] = process.argv.slice(2)
const paths = (await readFile(pathsFile, 'utf8')).split('\n').filter(Boolean)
const agent = new Agent({ connections: Number(conc) })
await mkdir(outDir, { recursive: true })
let next = 0
let bytes = 0
const t0 = performance.now()
await Promise.all(Array.from({ length: Number(conc) }, async () => {
  while (next < paths.length) {
    const p = paths[next++] ?? ''
    const res = await request(`${base}${p}`, { dispatcher: agent })
    const body = Buffer.from(await res.body.arrayBuffer())
    await writeFile(path.join(outDir, p.replace(/\//g, '_')), body)
    bytes += body.length
  }
}))
await agent.close()
process.stdout.write(`BASELINE_JSON ${JSON.stringify({ files: paths.length, bytes, ms: performance.now() - t0 })}\n`)
