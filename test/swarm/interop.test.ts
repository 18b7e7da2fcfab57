// Interop: stock BitTorrent clients (aria2c, transmission-cli) given the .torrent from an agent's API
// download the object from colony agents — and from nothing else (no DHT/LPD/PEX, origin egress unchanged).
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { startDemoOrigin, type DemoOrigin } from '../../src/demo/swarm-origin.ts'
import { createMemoryIndex, fetchTorrent, requestDownload, startAgent, startTracker, waitForDownload, type Agent, type SwarmIndex, type Tracker } from '../../src/swarm/index.ts'
import { parseTorrentFile } from '../../src/swarm/torrent-file.ts'
import { freePort, makeTempDir, stopProcess, waitFor } from '../../support/services.ts'

const SIZE = 3 * 1024 * 1024 + 4321

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex')
}

function collect(proc: ChildProcess): () => string {
  let out = ''
  const keep = (b: Buffer): void => { out = (out + b.toString()).slice(-6000) }
  proc.stdout?.on('data', keep)
  proc.stderr?.on('data', keep)
  return () => out
}

for (const engine of ['aria2', 'native'] as const) {
  describe(`BitTorrent interop with colony agents (${engine} engine)`, { timeout: 240_000 }, () => {
    let dir: string
    let origin: DemoOrigin
    let tracker: Tracker
    let index: SwarmIndex
    const agents: Agent[] = []
    let torrentPath: string
    let name: string
    let egressAfterAgents: number

    before(async () => {
      dir = await makeTempDir('colony-interop-')
      origin = await startDemoOrigin({ size: SIZE })
      tracker = await startTracker({ intervalMs: 2_000 })
      index = createMemoryIndex()
      for (let i = 0; i < 2; i++) {
        agents.push(await startAgent({
          engine,
          dataDir: path.join(dir, `agent-${i}`), index, trackers: [tracker.httpAnnounceUrl], allowHosts: [origin.hostPort], resume: false,
        }))
      }
      // Both agents take the object (one from the origin, one from the other), so the clients below see two colony seeders.
      const ids = await Promise.all(agents.map(async (a) => (await requestDownload(origin.url, { agent: a.url, sha256: origin.sha256 })).id))
      await Promise.all(agents.map((a, i) => waitForDownload(ids[i] ?? '', { agent: a.url, timeoutMs: 120_000 })))
      egressAfterAgents = origin.stats().egressBytes

      const torrent = await fetchTorrent(origin.url, { agent: agents[0]?.url })
      const parsed = await parseTorrentFile(torrent)
      assert.equal(parsed.length, SIZE)
      assert.deepEqual(parsed.announce, [tracker.httpAnnounceUrl])
      name = parsed.name
      torrentPath = path.join(dir, 'object.torrent')
      await writeFile(torrentPath, torrent)
    })

    after(async () => {
      await Promise.allSettled(agents.map((a) => a.close()))
      await index?.close()
      await tracker?.close()
      await origin?.close()
      await rm(dir, { recursive: true, force: true })
    })

    test('the torrent carries no web seed: a client can only get the bytes from peers', async () => {
      const text = (await readFile(torrentPath)).toString('latin1')
      // Bencoded: an empty list is "le"; anything else would be a web seed URL.
      assert.ok(!/8:url-listl(?!e)/.test(text) && !/8:url-list\d+:/.test(text), 'no url-list (BEP 19) web seed in the torrent')
      assert.ok(!/9:httpseedsl(?!e)/.test(text), 'no httpseeds (BEP 17) in the torrent')
      assert.ok(text.includes('7:privatei1e'), 'private torrent: clients keep to the trackers')
    })

    test('aria2c downloads the object from the agents', { timeout: 90_000 }, async (t) => {
      const out = path.join(dir, 'aria2c')
      const port = await freePort()
      const proc = spawn('aria2c', [
        '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false', '--seed-time=0',
        `--dir=${out}`, `--listen-port=${port}`, '--file-allocation=none', '--summary-interval=0', '--console-log-level=warn', torrentPath,
      ], { stdio: ['ignore', 'pipe', 'pipe'] })
      const output = collect(proc)
      t.after(() => stopProcess(proc))
      const code = await new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => { proc.kill('SIGKILL') }, 80_000)
        proc.once('exit', (c) => { clearTimeout(timer); resolve(c) })
      })
      assert.equal(code, 0, `aria2c failed: ${output()}`)
      assert.equal(sha256(await readFile(path.join(out, name))), origin.sha256)
      assert.equal(origin.stats().egressBytes, egressAfterAgents, 'aria2c took nothing from the origin')
    })

    test('transmission-cli downloads the object from the agents', { timeout: 90_000 }, async (t) => {
      const out = path.join(dir, 'transmission')
      const config = path.join(dir, 'transmission-config')
      await mkdir(out, { recursive: true })
      await mkdir(config, { recursive: true })
      // The tracker must be the only way to meet peers; uTP off because colony's agents speak TCP only.
      await writeFile(path.join(config, 'settings.json'), JSON.stringify({
        'dht-enabled': false, 'lpd-enabled': false, 'pex-enabled': false, 'utp-enabled': false,
        'port-forwarding-enabled': false, 'rename-partial-files': true, 'incomplete-dir-enabled': false,
      }))
      const marker = path.join(dir, 'transmission.done')
      const hook = path.join(dir, 'transmission-done.sh')
      await writeFile(hook, `#!/bin/sh\n: > '${marker}'\n`)
      await chmod(hook, 0o755)
      const port = await freePort()
      const proc = spawn('transmission-cli', ['-g', config, '-w', out, '-p', String(port), '-M', '-f', hook, torrentPath], { stdio: ['ignore', 'pipe', 'pipe'] })
      const output = collect(proc)
      t.after(() => stopProcess(proc))
      await waitFor(async () => {
        if (proc.exitCode !== null) throw new Error(`transmission-cli exited ${proc.exitCode}: ${output()}`)
        try { return (await stat(marker)).isFile() } catch { return false }
      }, { timeoutMs: 80_000, intervalMs: 200, message: `transmission-cli finished (${output().slice(-500)})` })
      assert.equal(sha256(await readFile(path.join(out, name))), origin.sha256)
      assert.equal(origin.stats().egressBytes, egressAfterAgents, 'transmission took nothing from the origin')
    })
  })
}
