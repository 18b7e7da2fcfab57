// transfer's HTTP source against a Connection: close origin while the destination is slower than the origin: the
// origin's FIN reaches undici's parser paused by backpressure, which must never crash the copying process
// (nodejs/undici#5360). The copy runs in a child process, so such a crash is its exit code.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFile, rm } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { after, before, describe, test } from 'node:test'
import { makeTempDir } from '../../../support/services.ts'
import { startCloseOrigin, type CloseOrigin } from '../../helpers/close-origin.ts'
import { describeExit, runNodeFile } from '../../helpers/node-child.ts'
import type { CopyOutcome } from '../../../src/transfer/core/types.ts'

const CHILD = fileURLToPath(new URL('./http-source-hold-child.ts', import.meta.url))
// Behind the copy's MeasureStream, which stops taking bytes after the first piece, these leave more than the body
// stream's 64 KiB highWaterMark unread when the FIN arrives with the last piece.
const PIECES = [16384, 65536, 65536]

describe('HTTP source and a Connection: close origin', { timeout: 60_000 }, () => {
  let whole: CloseOrigin
  let short: CloseOrigin
  let dir = ''
  before(async () => {
    whole = await startCloseOrigin('transfer-origin-close', { pieces: PIECES })
    short = await startCloseOrigin('transfer-origin-close-short', { pieces: PIECES, announce: 16384 + 2 * 65536 + 8192 })
    dir = await makeTempDir('colony-transfer-close-')
  })
  after(async () => {
    await whole.close()
    await short.close()
    await rm(dir, { recursive: true, force: true })
  })

  test('a body held by a slow destination is copied whole', async () => {
    const r = await runNodeFile(CHILD, [whole.url, `${dir}/whole`, '300'])
    assert.equal(r.code, 0, describeExit(r))
    const outcome = JSON.parse(r.stdout) as CopyOutcome
    assert.equal(outcome.ok, true, r.stdout)
    const copied = await readFile(`${dir}/whole/object.bin`)
    assert.equal(createHash('sha256').update(copied).digest('hex'), whole.sha256)
  })

  test('a truncated body held by a slow destination fails as retryable, not a crash', async () => {
    const r = await runNodeFile(CHILD, [short.url, `${dir}/short`, '300'])
    assert.equal(r.code, 0, describeExit(r))
    const outcome = JSON.parse(r.stdout) as CopyOutcome
    assert.equal(outcome.ok, false, r.stdout)
    assert.equal(outcome.ok === false && outcome.retryable, true, r.stdout)
  })
})
