// A directory destination joins each key to its root without path.resolve: for any key, seeded random ones
// included, a write lands exactly where resolveInside(root, key) says, and a key resolveInside refuses is refused
// with TRANSFER_PATH_ESCAPE.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { makeTempDir } from '../../../support/services.ts'
import { DirDestination } from '../../../src/transfer/adapters/dir-destination.ts'
import { resolveInside } from '../../../src/shared/safe-path.ts'
import { createRandom } from '../../../src/shared/seeded-random.ts'
import { TRANSFER_CODES } from '../../../src/transfer/errors.ts'

const ALPHABET = ['a', 'B', '0', '.', '..', '-', '_', ' ', '%', '%2e', '%2F', '%25', 'é', '/', '//', '\\', '~', '+', '%00']

function randomKey(rand: () => number): string {
  let key = rand() < 0.2 ? '/' : ''
  const n = 1 + Math.floor(rand() * 12)
  for (let i = 0; i < n; i++) key += ALPHABET[Math.floor(rand() * ALPHABET.length)]
  return key
}

test('keys land where resolveInside puts them, and what it refuses is refused', async (t) => {
  const seed = Number(process.env.SEED ?? Date.now() % 1e9)
  const work = await makeTempDir('colony-dir-paths-')
  t.after(() => rm(work, { recursive: true, force: true }))
  // A root given with a trailing slash and a dot segment: the destination resolves it once.
  const root = path.join(work, 'dest')
  const dest = new DirDestination(`${root}/./`, { syncSmallWrites: true })
  const rand = createRandom(seed)
  const fixed = ['a/b.ts', '/lead/x.ts', 'sp ace/é.ts', 'pct%2Fslash.ts', '%2e%2e/up.ts', 'a/../b.ts', 'a//b.ts', 'a/./b.ts', 'dots.../x', 'trail/']
  let written = 0
  let refused = 0
  for (const [i, key] of [...fixed, ...Array.from({ length: 300 }, () => randomKey(rand))].entries()) {
    let expected: string | undefined
    try { expected = resolveInside(root, key) } catch { expected = undefined }
    const body = Buffer.from(`body ${i}`)
    try {
      await dest.putBuffer(key, body)
    } catch (err) {
      const code = (err as { code?: string }).code
      // A key that is fine as a path may still clash with an earlier one (a file where a directory goes): not the point here.
      if (expected !== undefined && code !== TRANSFER_CODES.PATH_ESCAPE) continue
      assert.equal(expected, undefined, `seed ${seed}: ${JSON.stringify(key)} refused (${code}) but resolveInside gives ${expected}`)
      assert.equal(code, TRANSFER_CODES.PATH_ESCAPE, `seed ${seed}: ${JSON.stringify(key)}`)
      refused++
      continue
    }
    assert.ok(expected !== undefined, `seed ${seed}: ${JSON.stringify(key)} written, but resolveInside refuses it`)
    assert.ok((await readFile(expected)).equals(body), `seed ${seed}: ${JSON.stringify(key)} is not at ${expected}`)
    written++
  }
  assert.ok(written > 20 && refused > 20, `seed ${seed}: ${written} written, ${refused} refused`)
})
