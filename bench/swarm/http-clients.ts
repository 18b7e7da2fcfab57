// The baseline: N hosts each downloading the object straight from the origin over plain HTTP.
import { get } from 'node:http'

export type HttpClientsResult = { completionMs: number[]; wallMs: number; bytes: number[] }

function fetchOnce(url: string, t0: number, deadline: AbortSignal): Promise<{ ms: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { signal: deadline }, (res) => {
      if (res.statusCode !== 200) { res.resume(); reject(new Error(`origin answered ${res.statusCode}`)); return }
      let bytes = 0
      res.on('data', (chunk: Buffer) => { bytes += chunk.length })
      res.on('end', () => resolve({ ms: performance.now() - t0, bytes }))
      res.on('error', reject)
    })
    req.on('error', reject)
  })
}

/** All clients start at once; the body is counted and dropped (the baseline's disk is not what is measured). */
export async function runHttpClients(url: string, n: number, timeoutMs: number): Promise<HttpClientsResult> {
  const t0 = performance.now()
  const signal = AbortSignal.timeout(timeoutMs)
  const results = await Promise.all(Array.from({ length: n }, () => fetchOnce(url, t0, signal)))
  return { completionMs: results.map((r) => r.ms), wallMs: performance.now() - t0, bytes: results.map((r) => r.bytes) }
}
