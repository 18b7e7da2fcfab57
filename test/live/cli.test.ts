// `colony live publish|subscribe|serve` as a user runs them (bin/colony.js), against an in-process node.
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { after, before, test } from 'node:test'
import { promisify } from 'node:util'
import { startLiveServer, type LiveServer } from '../../src/live/index.ts'
import { waitFor } from './live-helpers.ts'

const run = promisify(execFile)
const BIN = new URL('../../bin/colony.js', import.meta.url).pathname
const TOKEN = 'cli-secret'
let server: LiveServer

async function colony(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, timeout: 20_000 })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string }
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }
  }
}

before(async () => { server = await startLiveServer({ token: TOKEN }) })
after(async () => { await server.close({ graceMs: 100 }) })

test('subscribe prints what publish sends; exit codes for usage and auth errors', { timeout: 60_000 }, async () => {
  const sub = spawn(process.execPath, [BIN, 'live', 'subscribe', 'cli-room', '--url', server.url, '--count', '2'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  sub.stdout.on('data', (b: Buffer) => { out += b.toString() })
  const exited = new Promise<number | null>((r) => sub.once('exit', (code) => r(code)))
  try {
    await waitFor(() => server.hub.viewers('cli-room') === 1, { message: 'subscriber connected' })
    const pub = await colony(['live', 'publish', 'cli-room', '{"type":"comment","data":{"text":"hi"}}', '--url', server.url], { COLONY_TOKEN: TOKEN })
    assert.equal(pub.code, 0, pub.stderr)
    assert.deepEqual(JSON.parse(pub.stdout), { topic: 'cli-room', accepted: 1, ids: [1] })
    assert.equal((await colony(['live', 'publish', 'cli-room', '{"n":2}', '--type', 'comment', '--url', server.url, '--token', TOKEN])).code, 0)
    assert.equal(await exited, 0)
    assert.equal(out, '1 comment {"text":"hi"}\n2 comment {"n":2}\n')
  } finally { sub.kill() }
  // Independent invocations run side by side: each CLI start costs seconds on a busy machine.
  const [noToken, badToken, peerWithoutDc, unknown, help] = await Promise.all([
    colony(['live', 'publish', 'cli-room', '{"type":"a"}', '--url', server.url], { COLONY_TOKEN: '' }),
    colony(['live', 'publish', 'cli-room', '{"type":"a"}', '--url', server.url, '--token', 'wrong']),
    colony(['live', 'serve', '--peer-dc', 'http://127.0.0.1:1']),
    colony(['live', 'frobnicate']),
    colony(['live', 'serve', '--help']),
  ])
  assert.equal(noToken.code, 2)
  assert.equal(badToken.code, 1)
  assert.match(badToken.stderr, /LIVE_UNAUTHORIZED/)
  assert.equal(peerWithoutDc.code, 2, '--peer-dc without --dc')
  assert.equal(unknown.code, 2)
  assert.equal(help.code, 0)
  assert.match(help.stdout, /--workers/)
  assert.match(help.stdout, /COLONY_REDIS/)
})
