// A symlink already inside a directory destination is never written through: a symlinked parent directory or a
// symlink at the file's own name refuses that one file (TRANSFER_SYMLINK_IN_DESTINATION), whatever the write path
// (buffered, streamed, blocking, kernel copy), and the target outside the destination stays untouched.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { syncBuiltinESMExports } from 'node:module'
import { lstat, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import { makeTempDir } from '../../../support/services.ts'
import { buildLibrary, startFixtureOrigin } from '../fixtures/origin-fixture.ts'
import { DirDestination } from '../../../src/transfer/adapters/dir-destination.ts'
import { runTransfer } from '../../../src/transfer/embedded/engine.ts'
import { TRANSFER_CODES } from '../../../src/transfer/errors.ts'
import { type Destination } from '../../../src/transfer/core/ports.ts'

const OUTSIDE_TEXT = 'outside the destination: must stay exactly this'

/** A destination root holding a directory symlink and a file symlink that both point outside it. */
async function trap(): Promise<{ work: string; root: string; outsideDir: string; outsideFile: string }> {
  const work = await makeTempDir('colony-symlink-')
  const root = path.join(work, 'dest')
  const outsideDir = path.join(work, 'outside-dir')
  const outsideFile = path.join(work, 'outside.txt')
  await mkdir(path.join(root, 'a'), { recursive: true })
  await mkdir(outsideDir)
  await writeFile(outsideFile, OUTSIDE_TEXT)
  await writeFile(path.join(work, 'source.bin'), 'from a local source file')
  await symlink(outsideDir, path.join(root, 'linkdir'))
  await symlink(outsideFile, path.join(root, 'a', 'linkfile.ts'))
  return { work, root, outsideDir, outsideFile }
}

async function assertOutsideUntouched(t: { outsideDir: string; outsideFile: string; root: string }): Promise<void> {
  assert.deepEqual(await readdir(t.outsideDir, { recursive: true }), [], 'nothing written into the directory the symlink points to')
  assert.equal(await readFile(t.outsideFile, 'utf8'), OUTSIDE_TEXT, 'the file the symlink points to is unchanged')
  assert.ok((await lstat(path.join(t.root, 'a', 'linkfile.ts'))).isSymbolicLink(), 'the link itself is left as it was')
}

test('every write path refuses a symlinked parent directory or a symlink at the file name', async (t) => {
  const env = await trap()
  t.after(() => rm(env.work, { recursive: true, force: true }))
  const data = Buffer.from('copied bytes')
  const writes: Array<[string, (d: Destination & DirDestination, key: string) => Promise<unknown>]> = [
    ['putBuffer', (d, key) => d.putBuffer(key, data, { size: data.length })],
    ['put (stream)', (d, key) => d.put(key, Readable.from([data]), { size: data.length })],
    ['putFromFile', (d, key) => d.putFromFile(key, path.join(env.work, 'source.bin'))],
  ]
  for (const sync of [false, true]) {
    const dest = new DirDestination(env.root, { syncSmallWrites: sync })
    for (const [name, write] of writes) {
      for (const key of ['linkdir/x.ts', 'linkdir/deeper/x.ts', 'a/linkfile.ts']) {
        await assert.rejects(write(dest, key), (err: { code?: string; message?: string; retryable?: boolean }) => {
          assert.equal(err.code, TRANSFER_CODES.SYMLINK_IN_DESTINATION, `${name} sync=${sync} ${key}: ${err.message}`)
          assert.equal(err.retryable, false)
          assert.match(err.message ?? '', /symlink/)
          return true
        })
      }
    }
    // A regular key beside the traps is written normally.
    await dest.putBuffer(`a/ok-${sync}.ts`, data)
  }
  await assertOutsideUntouched(env)
  assert.deepEqual((await readdir(path.join(env.root, 'a'))).sort(), ['linkfile.ts', 'ok-false.ts', 'ok-true.ts'], 'no temp file left behind')

  // Lookups do not follow the links either: a symlink is never "already there" nor verified, nor hashed.
  const dest = new DirDestination(env.root)
  await writeFile(path.join(env.outsideDir, 'x.ts'), data)
  assert.equal(await dest.stat('a/linkfile.ts'), undefined)
  assert.equal(await dest.stat('linkdir/x.ts'), undefined)
  assert.deepEqual(dest.statMany(['a/linkfile.ts', 'linkdir/x.ts', 'a/ok-true.ts']).map((s) => s?.size), [undefined, undefined, data.length])
  await assert.rejects(dest.checksum('a/linkfile.ts'), { code: TRANSFER_CODES.SYMLINK_IN_DESTINATION })
  await assert.rejects(dest.checksum('linkdir/x.ts'), { code: TRANSFER_CODES.SYMLINK_IN_DESTINATION })
})

test('a run into a destination holding symlinks: those files are reported, every other file is copied, outside untouched', { timeout: 60_000 }, async (t) => {
  const origin = await startFixtureOrigin(buildLibrary(2, 3))
  const env = await trap()
  t.after(async () => { await origin.stop(); await rm(env.work, { recursive: true, force: true }) })
  for (const workers of [0, 1]) {
    const root = path.join(env.work, `run${workers}`)
    // lib/c0/ts → a directory outside; lib/c1/master.m3u8 → a file outside.
    await mkdir(path.join(root, 'lib', 'c0'), { recursive: true })
    await mkdir(path.join(root, 'lib', 'c1'), { recursive: true })
    await symlink(env.outsideDir, path.join(root, 'lib', 'c0', 'ts'))
    await symlink(env.outsideFile, path.join(root, 'lib', 'c1', 'master.m3u8'))
    const report = await runTransfer({
      sources: [`${origin.url}/lib/c0/master.m3u8`, `${origin.url}/lib/c1/master.m3u8`], to: root,
      stateDir: path.join(env.work, `state${workers}`), workers, retries: 0,
    })
    assert.equal(report.ok, false)
    const missing = report.classes.flatMap((c) => c.missing)
    const expected = [...origin.files.keys()].map((k) => k.slice(1)).filter((k) => k.startsWith('lib/c0/ts/') || k === 'lib/c1/master.m3u8').sort()
    assert.deepEqual(missing.map((m) => m.key).sort(), expected, `workers=${workers}`)
    assert.ok(missing.every((m) => m.code === TRANSFER_CODES.SYMLINK_IN_DESTINATION), JSON.stringify(missing[0]))
    assert.equal(report.totals.verified, origin.files.size - expected.length)
    for (const [p, f] of origin.files) {
      if (!expected.includes(p.slice(1))) assert.ok((await readFile(path.join(root, p))).equals(f.body), p)
    }
    await assertOutsideUntouched({ ...env, root: env.root })
  }
})

test('a file in a directory the destination created costs no symlink check of its own name', async (t) => {
  const work = await makeTempDir('colony-made-dir-')
  const root = path.join(work, 'dest')
  await mkdir(path.join(root, 'old'), { recursive: true })
  const data = Buffer.from('copied bytes')
  const seen: string[] = []
  const real = fs.lstatSync
  t.mock.method(fs, 'lstatSync', ((p: fs.PathLike, o?: fs.StatSyncOptions) => { seen.push(String(p)); return real(p, o) }) as typeof fs.lstatSync)
  syncBuiltinESMExports()
  t.after(async () => { t.mock.restoreAll(); syncBuiltinESMExports(); await rm(work, { recursive: true, force: true }) })
  for (const sync of [false, true]) {
    const dest = new DirDestination(root, { syncSmallWrites: sync })
    await dest.putBuffer(`new-${sync}/deep/a.ts`, data)
    seen.length = 0
    await dest.putBuffer(`new-${sync}/deep/b.ts`, data)
    await dest.put(`new-${sync}/deep/c.ts`, Readable.from([data]), { size: data.length })
    assert.deepEqual([...seen], [], `sync=${sync}: no lstat for files of a directory this destination made`)
    // A directory that was there before: each file's own name is still looked at.
    await dest.putBuffer(`old/a-${sync}.ts`, data)
    assert.ok(seen.includes(path.join(root, 'old', `a-${sync}.ts`)), `sync=${sync}: ${seen.join(', ')}`)
    assert.ok((await readFile(path.join(root, `new-${sync}/deep/b.ts`))).equals(data))
  }
  // Another destination (a later run) did not make them: a symlink planted at a name there is refused.
  await symlink(path.join(work, 'elsewhere'), path.join(root, 'new-true', 'deep', 'd.ts'))
  await assert.rejects(new DirDestination(root, { syncSmallWrites: true }).putBuffer('new-true/deep/d.ts', data), { code: TRANSFER_CODES.SYMLINK_IN_DESTINATION })
})
