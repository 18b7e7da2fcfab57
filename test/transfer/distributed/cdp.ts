// A minimal DevTools-protocol client for headless Chromium (Node's global WebSocket), for the dashboard test.
import { startChromium } from '../../helpers/chromium.ts'

type Pending = { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }

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
      this.#pending.delete(msg.id)
      if (msg.error) p?.reject(new Error(msg.error.message))
      else p?.resolve(msg.result ?? {})
    })
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = ++this.#id
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.#ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }))
    })
  }

  close(): void { this.#ws.close() }
}

export type Page = { evaluate: (expr: string) => Promise<unknown>; screenshot: () => Promise<Buffer> }
export type Browser = { cdp: Cdp; open: (url: string, size?: { width: number; height: number }) => Promise<Page>; close: () => Promise<void> }

export async function launchChromium(): Promise<Browser> {
  const chromium = await startChromium()
  const ws = new WebSocket(chromium.webSocketDebuggerUrl)
  await new Promise<void>((resolve, reject) => { ws.addEventListener('open', () => resolve()); ws.addEventListener('error', () => reject(new Error('CDP connect failed'))) })
  const cdp = new Cdp(ws)
  const open = async (url: string, size = { width: 1280, height: 900 }): Promise<Page> => {
    const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank' }) as { targetId: string }
    const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true }) as { sessionId: string }
    await cdp.send('Emulation.setDeviceMetricsOverride', { ...size, deviceScaleFactor: 1, mobile: false }, sessionId)
    await cdp.send('Page.navigate', { url }, sessionId)
    return {
      evaluate: async (expression: string) => {
        const r = await cdp.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, sessionId) as { result: { value?: unknown }; exceptionDetails?: unknown }
        if (r.exceptionDetails) throw new Error(`page threw: ${JSON.stringify(r.exceptionDetails)}`)
        return r.result.value
      },
      screenshot: async () => Buffer.from((await cdp.send('Page.captureScreenshot', { format: 'png' }, sessionId) as { data: string }).data, 'base64'),
    }
  }
  return {
    cdp, open,
    close: async () => { cdp.close(); await chromium.close() },
  }
}
