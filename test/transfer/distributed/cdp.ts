// Pages in headless Chromium for the dashboard test, on the shared launcher and DevTools client.
import { Cdp, startChromium } from '../../helpers/chromium.ts'

export type Page = { evaluate: (expr: string) => Promise<unknown>; screenshot: () => Promise<Buffer> }
export type Browser = { cdp: Cdp; open: (url: string, size?: { width: number; height: number }) => Promise<Page>; close: () => Promise<void> }

export async function launchChromium(): Promise<Browser> {
  const chromium = await startChromium()
  const cdp = await Cdp.connect(chromium.webSocketDebuggerUrl)
  const open = async (url: string, size = { width: 1280, height: 900 }): Promise<Page> => {
    const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank' }) as { targetId: string }
    const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true }) as { sessionId: string }
    await cdp.send('Emulation.setDeviceMetricsOverride', { ...size, deviceScaleFactor: 1, mobile: false }, sessionId)
    await cdp.send('Page.navigate', { url }, sessionId)
    return {
      evaluate: (expression: string) => cdp.evaluate(sessionId, expression),
      screenshot: async () => Buffer.from((await cdp.send('Page.captureScreenshot', { format: 'png' }, sessionId) as { data: string }).data, 'base64'),
    }
  }
  return {
    cdp, open,
    close: async () => { cdp.close(); await chromium.close() },
  }
}
