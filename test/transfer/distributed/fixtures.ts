// Shared by the distributed tests: a small HLS library on disk (served by nginx), worker processes, checks.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRandom } from '../../../src/shared/seeded-random.ts'

export const WORKER_MAIN = fileURLToPath(new URL('./worker-main.ts', import.meta.url))

export type LibraryFile = { key: string; size: number }

/** Writes `classes` classes (master, `variants` media playlists, `segments` segments each) under root/lib. */
/** Bytes and sizes come from a PRNG seeded with `seed` (default 1): the same options write the same library. */
export async function writeLibrary(root: string, options: { classes: number; variants: number; segments: number; endlist?: boolean; segmentBytes?: [number, number]; seed?: number }): Promise<{ files: LibraryFile[]; catalog: Array<{ id: string; path: string }> }> {
  const random = createRandom(options.seed ?? 1)
  const bytes = (n: number): Buffer => { const b = Buffer.alloc(n); for (let k = 0; k < n; k++) b[k] = Math.floor(random() * 256); return b }
  const files: LibraryFile[] = []
  const catalog: Array<{ id: string; path: string }> = []
  for (let c = 0; c < options.classes; c++) {
    const id = `class${String(c).padStart(3, '0')}`
    const dir = path.join(root, 'lib', id)
    const put = async (rel: string, data: Buffer | string): Promise<void> => {
      const full = path.join(dir, rel)
      await mkdir(path.dirname(full), { recursive: true })
      await writeFile(full, data)
      files.push({ key: `lib/${id}/${rel}`, size: Buffer.byteLength(data) })
    }
    const master = ['#EXTM3U', '#EXT-X-VERSION:3']
    for (let v = 0; v < options.variants; v++) {
      master.push(`#EXT-X-STREAM-INF:BANDWIDTH=${(v + 1) * 500000}`, `v${v}/index.m3u8`)
      const media = ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:4', '#EXT-X-MEDIA-SEQUENCE:0']
      for (let s = 0; s < options.segments; s++) {
        const name = `seg${String(s).padStart(4, '0')}.ts`
        media.push('#EXTINF:4.0,', name)
        const [min, max] = options.segmentBytes ?? [100, 6100]
        await put(`v${v}/${name}`, bytes(min + Math.floor(random() * (max - min))))
      }
      if (options.endlist ?? true) media.push('#EXT-X-ENDLIST')
      await put(`v${v}/index.m3u8`, `${media.join('\n')}\n`)
    }
    await put('master.m3u8', `${master.join('\n')}\n`)
    catalog.push({ id, path: `/lib/${id}/master.m3u8` })
  }
  return { files, catalog }
}

/** Every file byte-identical under dest? Returns the keys that are not. */
export async function compareTrees(srcRoot: string, destRoot: string, files: LibraryFile[]): Promise<string[]> {
  const bad: string[] = []
  for (const f of files) {
    const [a, b] = await Promise.all([readFile(path.join(srcRoot, f.key)), readFile(path.join(destRoot, f.key)).catch(() => undefined)])
    if (!b || !a.equals(b)) bad.push(f.key)
  }
  return bad
}

export type WorkerProc = { role: string; proc: ChildProcess; output: () => string }

/** A `colony transfer worker` process (through runDistributed, as transfer-command.ts routes it). */
export function spawnWorker(args: string[], role: string, env: NodeJS.ProcessEnv = {}): WorkerProc {
  const proc = spawn(process.execPath, [WORKER_MAIN, 'worker', '--role', role, ...args], {
    env: { ...process.env, COLONY_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'ignore', 'pipe'],
  })
  let out = ''
  proc.stderr?.on('data', (b: Buffer) => { out = (out + b.toString()).slice(-20_000) })
  return { role, proc, output: () => out }
}

export async function killHard(w: WorkerProc): Promise<void> {
  if (w.proc.exitCode !== null || w.proc.signalCode !== null) return
  const gone = new Promise<void>((r) => w.proc.once('exit', () => r()))
  w.proc.kill('SIGKILL')
  await gone
}

export async function stopGracefully(w: WorkerProc): Promise<void> {
  if (w.proc.exitCode !== null || w.proc.signalCode !== null) return
  const gone = new Promise<void>((r) => w.proc.once('exit', () => r()))
  w.proc.kill('SIGTERM')
  const t = setTimeout(() => w.proc.kill('SIGKILL'), 8000)
  await gone
  clearTimeout(t)
}
