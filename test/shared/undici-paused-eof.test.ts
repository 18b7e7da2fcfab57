// An origin that closes the connection (FIN) while the client holds the response body unread must never crash the
// process: undici's HTTP/1 parser is then paused by backpressure (nodejs/undici#5360). The client runs in a child
// process, so such a crash is the child's exit code, not a dead test runner.
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { after, before, describe, test } from 'node:test'
import { startCloseOrigin, type CloseOrigin } from '../helpers/close-origin.ts'
import { describeExit, runNodeFile } from '../helpers/node-child.ts'

const CHILD = fileURLToPath(new URL('./undici-hold-child.ts', import.meta.url))
const FETCH_CHILD = fileURLToPath(new URL('./fetch-hold-child.ts', import.meta.url))

describe('undici and a Connection: close origin', { timeout: 60_000 }, () => {
  let whole: CloseOrigin
  let short: CloseOrigin
  before(async () => {
    whole = await startCloseOrigin('undici-paused-eof')
    // Announces 8 KiB more than it sends, then FIN: a truncated body.
    short = await startCloseOrigin('undici-paused-eof-short', { announce: 16384 + 40960 + 40960 + 8192 })
  })
  after(async () => {
    await whole.close()
    await short.close()
  })

  test('a body held unread while the origin sends FIN is read whole afterwards', async () => {
    const r = await runNodeFile(CHILD, [whole.url, '300'])
    assert.equal(r.code, 0, describeExit(r))
    assert.deepEqual(JSON.parse(r.stdout), { bytes: whole.body.length, sha256: whole.sha256 })
  })

  test("Node's built-in fetch() goes through colony's dispatcher and reads a held body whole", async () => {
    const r = await runNodeFile(FETCH_CHILD, [whole.url, '300'])
    assert.equal(r.code, 0, describeExit(r))
    assert.deepEqual(JSON.parse(r.stdout), { bytes: whole.body.length, sha256: whole.sha256 })
  })

  test('a truncated body held unread fails with an error, not a crash', async () => {
    const r = await runNodeFile(CHILD, [short.url, '300'])
    assert.equal(r.code, 0, describeExit(r))
    const out = JSON.parse(r.stdout) as { error?: string }
    assert.equal(out.error, 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH', r.stdout)
  })
})
