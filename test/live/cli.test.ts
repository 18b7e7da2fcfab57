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
  assert.match(help.stdout, /--headers-timeout <duration>.*\(default: 10s\) \[env COLONY_HEADERS_TIMEOUT\]/)
  assert.match(help.stdout, /--max-pending-per-ip .*\(default: 256\)/)
  assert.match(help.stdout, /--max-conns-per-ip .*\(default: 1000\)/)
  assert.match(help.stdout, /--viewer-rate .*\(default: 5\)/)
})

test('colony live token issues a viewer token offline that the node accepts within its scope only', { timeout: 60_000 }, async () => {
  const [issued, json, page, noSecret, noTopic, tooLong] = await Promise.all([
    colony(['live', 'token', '--topic', 'cli-tok', '--types', 'like', '--ttl', '10m'], { COLONY_TOKEN: TOKEN }),
    colony(['live', 'token', '--topic', 'a,b*', '--json', '--token', TOKEN]),
    colony(['live', 'token', '--topic', 'cli-tok', '--page', server.url, '--token', TOKEN]),
    colony(['live', 'token', '--topic', 'cli-tok'], { COLONY_TOKEN: '' }),
    colony(['live', 'token', '--token', TOKEN]),
    colony(['live', 'token', '--topic', 'cli-tok', '--ttl', '48h', '--token', TOKEN]),
  ])
  assert.equal(issued.code, 0, issued.stderr)
  const token = issued.stdout.trim()
  assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/)
  const post = (topic: string, type: string): Promise<Response> => fetch(`${server.url}/v1/topics/${topic}/events`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ type, data: {} }) })
  assert.equal((await post('cli-tok', 'like')).status, 202)
  assert.equal((await post('cli-tok', 'comment')).status, 403, 'only the types asked for')
  assert.equal((await post('elsewhere', 'like')).status, 403, 'only the topics asked for')
  assert.equal(json.code, 0, json.stderr)
  const details = JSON.parse(json.stdout) as { topics: string[]; types: string[]; exp: number; jti: string }
  assert.deepEqual(details.topics, ['a', 'b*'])
  assert.deepEqual(details.types, ['like', 'comment'], 'default types')
  assert.ok(Math.abs(details.exp - (Date.now() / 1000 + 3600)) < 120, 'default ttl 1h')
  assert.match(page.stdout, new RegExp(`^${server.url}/\\?topic=cli-tok#viewer=[\\w-]+\\.[\\w-]+\\.[\\w-]+\\n$`))
  assert.equal(noSecret.code, 2, 'no secret is a usage error')
  assert.equal(noTopic.code, 2)
  assert.equal(tooLong.code, 2, 'ttl over --viewer-max-ttl')
})
