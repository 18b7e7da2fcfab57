// The agent's REST API on its own HTTP server: bound, routed through createAgentApi, closed with the agent.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { listen } from '../../shared/http-ops.ts'
import type { Agent } from '../agent/agent.ts'
import { createAgentApi, type AgentApiOptions } from './agent-api.ts'

export type ApiServerOptions = Omit<AgentApiOptions, 'address'> & {
  host: string
  /** 0 picks a free one. */
  port: number
}

export type ApiServer = {
  /** Base URL, e.g. http://127.0.0.1:7480 */
  url: string
  /** Stops accepting, then drops the open connections (streams of objects included). */
  close(): Promise<void>
}

export async function serveAgentApi(agent: Agent, options: ApiServerOptions): Promise<ApiServer> {
  const { host, port, ...api } = options
  const handle = createAgentApi(agent, { ...api, address: () => server.address() as AddressInfo })
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      options.log.error({ err: String(err) }, 'request handler failed')
      if (!res.headersSent) res.writeHead(500)
      res.end()
    })
  })
  const url = await listen(server, { host, port })
  return {
    url,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeAllConnections()
    },
  }
}
