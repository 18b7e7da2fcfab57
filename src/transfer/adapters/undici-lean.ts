// The parts of undici the copy path uses (Agent, Pool and their request()), loaded from their own modules: undici's
// index also loads fetch, WebSocket, EventSource, caches and mocks, about 100 ms of CPU per thread, which every copy
// worker thread would pay at every run. When undici's layout differs (another major version), the index is used.
import { createRequire } from 'node:module'
import type { Agent as AgentClass, Pool as PoolClass } from 'undici'

type Lean = { Agent: typeof AgentClass; Pool: typeof PoolClass }

function load(): Lean {
  const require = createRequire(import.meta.url)
  try {
    const Agent = require('undici/lib/dispatcher/agent.js') as typeof AgentClass
    const Pool = require('undici/lib/dispatcher/pool.js') as typeof PoolClass
    const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as { prototype: object }
    // What undici's index does: request(), stream(), pipeline()… become methods of every dispatcher.
    if (!('request' in Dispatcher.prototype)) Object.assign(Dispatcher.prototype, require('undici/lib/api/index.js') as object)
    if (typeof Agent === 'function' && typeof Pool === 'function') return { Agent, Pool }
  } catch { /* another layout: the index below */ }
  return require('undici') as Lean
}

export const { Agent, Pool } = load()
export type Agent = AgentClass
export type Pool = PoolClass
