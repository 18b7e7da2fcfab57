// Lambda's Invoke API (POST /2015-03-31/functions/:name/invocations) around colony's handler, on loopback:
// the invoke path is tested — and can be tried — without AWS. Function errors answer 200 with
// X-Amz-Function-Error, as Lambda does.
import { createServer, type Server } from 'node:http'
import { createMetricsRegistry } from '../../../shared/metrics.ts'
import { handleOpsRequest, listen, readBody, sendError, sendJson } from '../../../shared/http-ops.ts'
import { handler as colonyHandler } from './handler.ts'
import type { LambdaBatchEvent } from '../../wire-format.ts'
import { TRANSFER_DEFAULTS } from '../../defaults.ts'

export type LocalLambdaOptions = {
  /** Function names served. @defaultValue any name */
  functions?: string[]
  host?: string
  port?: number
  /** The handler (tests can wrap it). @defaultValue colony's handler */
  handler?: (event: LambdaBatchEvent) => Promise<unknown>
}

export async function startLocalLambda(options: LocalLambdaOptions = {}): Promise<{ url: string; server: Server; invocations: () => number; close: () => Promise<void> }> {
  const registry = createMetricsRegistry({ defaults: false })
  const handle = options.handler ?? colonyHandler
  let count = 0
  const server = createServer((req, res) => {
    void (async () => {
      try {
        if (await handleOpsRequest(req, res, { registry })) return
        const m = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec((req.url ?? '').split('?')[0] ?? '')
        if (req.method !== 'POST' || !m?.[1]) { sendJson(res, 404, { message: 'not found' }); return }
        const name = decodeURIComponent(m[1])
        if (options.functions && !options.functions.includes(name)) {
          res.writeHead(404, { 'content-type': 'application/json', 'x-amzn-errortype': 'ResourceNotFoundException' })
          res.end(JSON.stringify({ Type: 'User', message: `Function not found: ${name}` }))
          return
        }
        const body = await readBody(req, TRANSFER_DEFAULTS.lambda.maxEventBytes)
        count++
        try {
          const out = await handle(JSON.parse(body.toString('utf8')) as LambdaBatchEvent)
          const text = JSON.stringify(out ?? null)
          res.writeHead(200, { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST' })
          res.end(text)
        } catch (err) {
          res.writeHead(200, { 'content-type': 'application/json', 'x-amz-function-error': 'Unhandled' })
          res.end(JSON.stringify({ errorType: (err as Error).name, errorMessage: (err as Error).message }))
        }
      } catch (err) {
        sendError(res, err)
      }
    })()
  })
  const url = await listen(server, { ...(options.host ? { host: options.host } : {}), ...(options.port ? { port: options.port } : {}) })
  return { url, server, invocations: () => count, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()) }) }
}
