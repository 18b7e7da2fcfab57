// A real agent process fetching from a Connection: close origin while its --download-limit holds the body unread:
// the origin's FIN then reaches a parser paused by backpressure, which must never crash the agent (nodejs/undici#5360).
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { rm } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { after, before, describe, test } from 'node:test'
import { freePort, makeTempDir, startProcess, stopProcess } from '../../../support/services.ts'
import { startCloseOrigin, type CloseOrigin } from '../../helpers/close-origin.ts'
import { requestDownload, waitForDownload, type DownloadInfo } from '../../../src/swarm/index.ts'

const BIN = fileURLToPath(new URL('../../../bin/colony.js', import.meta.url))

describe('swarm agent and a Connection: close origin', { timeout: 60_000 }, () => {
  let origin: CloseOrigin
  let dir: string
  let agent: ChildProcess
  let api = ''
  let log = ''

  before(async () => {
    origin = await startCloseOrigin('swarm-origin-close')
    dir = await makeTempDir('colony-swarm-close-')
    const port = await freePort()
    api = `http://127.0.0.1:${port}`
    // 48 KiB/s: after the first 16 KiB piece the leader waits ~1/3 s, while the origin sends the rest and its FIN.
    agent = await startProcess(process.execPath, [BIN, 'swarm', 'agent', '--api', `127.0.0.1:${port}`, '--listen', '0',
      '--data', `${dir}/agent`, '--allow-host', '127.0.0.1', '--download-limit', '48KiB/s'], { port, dir, env: { COLONY_LOG_LEVEL: 'warn' } })
    agent.stderr?.on('data', (b: Buffer) => { log = (log + b.toString()).slice(-4000) })
  })
  after(async () => {
    await stopProcess(agent)
    await origin.close()
    await rm(dir, { recursive: true, force: true })
  })

  test('the leader completes the download and the agent stays up', async () => {
    let done: DownloadInfo
    try {
      const started = await requestDownload(origin.url, { agent: api, sha256: origin.sha256 })
      done = await waitForDownload(started.id, { agent: api, timeoutMs: 20_000 })
    } catch (err) {
      assert.fail(`${(err as Error).message}; agent exit ${agent.exitCode ?? agent.signalCode}; agent stderr: ${log}`)
    }
    assert.equal(done.role, 'leader')
    assert.equal(done.sha256, origin.sha256)
    assert.equal(done.bytes.fromOrigin, origin.body.length)
    assert.equal(origin.gets, 1, 'one GET: the body was not cut and retried')
    assert.equal(agent.exitCode, null, `agent exited: ${log}`)
  })
})
