// Headless Chromium for page tests, driven over the DevTools protocol. Chromium forks helper processes
// (zygote, renderers, GPU) that outlive the browser process on SIGTERM; they keep writing the profile
// (so a plain rm fails with ENOTEMPTY) and keep the test process alive. So: own process group, kill the group.
import { spawn, type ChildProcess } from 'node:child_process'
import { rm } from 'node:fs/promises'
import { freePort, makeTempDir, waitFor } from './services.ts'

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
