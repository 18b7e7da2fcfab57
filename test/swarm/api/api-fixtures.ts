// Raw HTTP calls to an agent's API with any Host, Origin, Content-Type or source address (fetch cannot set Host).
import { request } from 'node:http'

export type ApiCall = {
  method?: string
  /** Sent as is; `host` replaces the one derived from the URL. */
  headers?: Record<string, string>
  body?: string
  /** Source address of the connection (any 127.x address is loopback on Linux). */
  localAddress?: string
}

export type ApiAnswer = { status: number; headers: Record<string, string | string[] | undefined>; text: string; code: string | undefined }

export function apiCall(base: string, path: string, call: ApiCall = {}): Promise<ApiAnswer> {
  const u = new URL(path, base)
  return new Promise((resolve, reject) => {
    const req = request({
      host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port, path: `${u.pathname}${u.search}`, method: call.method ?? 'GET',
      headers: { ...(call.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(call.body)) }), ...call.headers }, agent: false, ...(call.localAddress ? { localAddress: call.localAddress } : {}),
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', reject)
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let code: string | undefined
        try { code = (JSON.parse(text) as { error?: { code?: string } }).error?.code } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, code })
      })
    })
    req.setTimeout(10_000, () => req.destroy(new Error(`${call.method ?? 'GET'} ${path}: no answer in 10 s`)))
    req.on('error', reject)
    req.end(call.body)
  })
}

/** POST /v1/downloads {"url"} with a JSON body, plus any extra headers. */
export function postDownload(base: string, url: string, call: ApiCall = {}): Promise<ApiAnswer> {
  return apiCall(base, '/v1/downloads', { method: 'POST', body: JSON.stringify({ url }), ...call, headers: { 'content-type': 'application/json', ...call.headers } })
}
