// Headless Chromium for page tests, driven over the DevTools protocol. Chromium forks helper processes
// (zygote, renderers, GPU) that outlive the browser process on SIGTERM; they keep writing the profile
// (so a plain rm fails with ENOTEMPTY) and keep the test process alive. So: own process group, kill the group.
import { spawn, type ChildProcess } from 'node:child_process'
import { rm } from 'node:fs/promises'
import { freePort, makeTempDir, waitFor } from '../../support/services.ts'

export type ChromiumInstance = { webSocketDebuggerUrl: string; port: number; close: () => Promise<void> }

export async function startChromium(options: { timeoutMs?: number } = {}): Promise<ChromiumInstance> {
  const profile = await makeTempDir('colony-chromium-')
  const port = await freePort()
  const proc: ChildProcess = spawn('/usr/bin/chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage', `--user-data-dir=${profile}`,
    `--remote-debugging-port=${port}`, 'about:blank'], { stdio: 'ignore', detached: true })
  const close = async (): Promise<void> => {
    const exited = proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => proc.once('exit', () => r()))
    killGroup(proc, 'SIGTERM')
    const timer = setTimeout(() => killGroup(proc, 'SIGKILL'), 3000)
    await exited
    clearTimeout(timer)
    killGroup(proc, 'SIGKILL') // stragglers in the group
    await rm(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }).catch(() => undefined)
  }
  try {
    const version = await waitFor(async () => {
      const res = await fetch(`http://127.0.0.1:${port}/json/version`)
      return res.ok ? await res.json() as { webSocketDebuggerUrl: string } : undefined
    }, { timeoutMs: options.timeoutMs ?? 60_000, message: 'chromium DevTools endpoint' })
    return { webSocketDebuggerUrl: version.webSocketDebuggerUrl, port, close }
  } catch (err) {
    await close()
    throw err
  }
}

function killGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  if (proc.pid === undefined) return
  try { process.kill(-proc.pid, signal) } catch { /* group already gone */ }
}

type Pending = { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }

/**
 * Minimal DevTools-protocol client over one browser-level WebSocket (flattened sessions). Every call has a
 * deadline and a closed socket fails every pending call, so a crashed browser fails a test instead of hanging it.
 */
export class Cdp {
  readonly #ws: WebSocket
  #id = 0
  readonly #pending = new Map<number, Pending>()

  constructor(ws: WebSocket) {
    this.#ws = ws
    ws.addEventListener('message', (e: MessageEvent) => {
      const msg = JSON.parse(String(e.data)) as { id?: number; result?: Record<string, unknown>; error?: { message: string } }
      if (msg.id === undefined) return
      const p = this.#pending.get(msg.id)
      if (!p) return
      this.#pending.delete(msg.id)
      clearTimeout(p.timer)
      if (msg.error) p.reject(new Error(msg.error.message))
      else p.resolve(msg.result ?? {})
    })
    ws.addEventListener('close', () => {
      for (const [id, p] of this.#pending) { clearTimeout(p.timer); p.reject(new Error('CDP connection closed')); this.#pending.delete(id) }
    })
  }

  static async connect(url: string): Promise<Cdp> {
    const ws = new WebSocket(url)
    await new Promise<void>((resolve, reject) => { ws.addEventListener('open', () => resolve()); ws.addEventListener('error', () => reject(new Error('CDP connect failed'))) })
    return new Cdp(ws)
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    const id = ++this.#id
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.#pending.delete(id); reject(new Error(`CDP ${method} got no answer in ${timeoutMs} ms`)) }, timeoutMs)
      this.#pending.set(id, { resolve, reject, timer })
      this.#ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }))
    })
  }

  /** Evaluates an expression in a page session and returns its value (awaiting promises). */
  async evaluate(sessionId: string, expression: string): Promise<unknown> {
    const r = await this.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, sessionId) as { result: { value?: unknown }; exceptionDetails?: unknown }
    if (r.exceptionDetails) throw new Error(`page threw: ${JSON.stringify(r.exceptionDetails)}`)
    return r.result.value
  }

  close(): void { this.#ws.close() }
}
