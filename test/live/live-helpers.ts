// Shared bits of the live tests: a viewer that records what it receives, and a raw TCP SSE client.
import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import { waitFor } from '../../support/services.ts'
import { subscribeLive, type SseMessage } from '../../src/live/index.ts'

export type Viewer = {
  events: SseMessage[]
  opens: string[]
  opened: Promise<void>
  /** Events of one type, data parsed. */
  of<T = Record<string, unknown>>(type: string): T[]
  likes(): number
  stop(): Promise<void>
}

export function watchTopic(url: string, topic: string, options: { lastEventId?: string; fallbackUrls?: string[]; reconnect?: boolean } = {}): Viewer {
  const events: SseMessage[] = []
  const opens: string[] = []
  const abort = new AbortController()
  let open: () => void = () => undefined
  const opened = new Promise<void>((r) => { open = r })
  const done = subscribeLive({
    url, topic, signal: abort.signal, lastEventId: options.lastEventId, fallbackUrls: options.fallbackUrls, reconnect: options.reconnect ?? true,
    onOpen: (u) => { opens.push(u); open() },
    onEvent: (m) => { events.push(m) },
  }).catch(() => undefined)
  return {
    events, opens, opened,
    of: <T>(type: string) => events.filter((e) => e.event === type).map((e) => JSON.parse(e.data) as T),
    likes: () => events.filter((e) => e.event === 'like').reduce((s, e) => s + Number((JSON.parse(e.data) as { likes?: number }).likes ?? 0), 0),
    async stop() { abort.abort(); await done },
  }
}

/** Waits until every viewer is connected. */
export async function allOpen(viewers: Viewer[], timeoutMs = 10_000): Promise<void> {
  await Promise.race([
    Promise.all(viewers.map((v) => v.opened)),
    new Promise((_, reject) => setTimeout(() => reject(new Error('viewers did not connect')), timeoutMs).unref()),
  ])
}

export async function publish(url: string, topic: string, token: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${url}/v1/topics/${encodeURIComponent(topic)}/events`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  return { status: res.status, json: await res.json() as Record<string, unknown> }
}

export function comments(n: number, from = 0, extra: Record<string, unknown> = {}): { events: { type: string; data: unknown }[] } {
  return { events: Array.from({ length: n }, (_, i) => ({ type: 'comment', data: { n: from + i, ...extra } })) }
}

/** A raw socket that sends the SSE request and then reads only when told (a slow consumer). */
export async function rawSubscriber(port: number, topic: string, headers = ''): Promise<{ socket: net.Socket; received: () => string; resume: () => void }> {
  const socket = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  let text = ''
  socket.pause()
  socket.on('data', (b: Buffer) => { text += b.toString('latin1') })
  socket.write(`GET /v1/topics/${topic}/events HTTP/1.1\r\nHost: x\r\n${headers}\r\n`)
  return { socket, received: () => text, resume: () => socket.resume() }
}

export { waitFor }

/**
 * `colony live serve …` on `port`, ready once /healthz answers (up to 60 s: CLI start-up is slow on a busy
 * machine). On failure the process is killed, so a failed start never leaves the test file hanging.
 */
export async function startColony(args: string[], port: number, ready?: () => Promise<boolean>): Promise<ChildProcess> {
  const bin = new URL('../../bin/colony.js', import.meta.url).pathname
  const proc = spawn(process.execPath, [bin, ...args], { env: { ...process.env, COLONY_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const keep = (b: Buffer): void => { output = (output + b.toString()).slice(-4000) }
  proc.stdout?.on('data', keep)
  proc.stderr?.on('data', keep)
  try {
    await waitFor(async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`colony exited early: ${output}`)
      if (ready) return ready()
      try { return (await fetch(`http://127.0.0.1:${port}/healthz`)).ok } catch { return false }
    }, { timeoutMs: 60_000, intervalMs: 200, message: `colony ${args.join(' ')} ready` })
  } catch (err) {
    proc.kill('SIGKILL')
    throw err
  }
  return proc
}
