// Streams the regular files under one directory of a directory destination, depth first, one directory open at a
// time, so a listing of millions of files never sits in memory. Symlinks are neither followed nor listed (colony
// never reads through one), and colony's own temp files are left out.
import { lstat, opendir } from 'node:fs/promises'
import path from 'node:path'
import { resolveInside } from '../../shared/safe-path.ts'
import { walkDirs } from './no-follow.ts'

/** Files under `root`/`prefix` as keys relative to `root` ('/'-separated) with their sizes. */
export async function* listDirTree(root: string, prefix: string): AsyncIterable<{ key: string; size: number }> {
  const clean = prefix.replace(/^\/+|\/+$/g, '')
  const start = clean ? resolveInside(root, clean) : root
  if (clean && walkDirs(root, start) !== 'ok') return
  const stack = [start]
  while (stack.length > 0) {
    const dir = stack.pop() as string
    let handle
    try { handle = await opendir(dir) } catch { continue }
    for await (const e of handle) {
      const full = path.join(dir, e.name)
      if (e.isDirectory()) { stack.push(full); continue }
      if (!e.isFile() || e.name.includes('.colony-tmp-')) continue
      const st = await lstat(full).catch(() => undefined)
      if (!st?.isFile()) continue
      yield { key: path.relative(root, full).split(path.sep).join('/'), size: st.size }
    }
  }
}
