// The parts of undici the copy path uses (Agent, Pool and their request()), imported from their own modules:
// undici's index also loads fetch, WebSocket, EventSource, caches and mocks, about 100 ms of CPU per thread, which
// every copy worker thread would pay at every run. Static imports, so that bundlers (the Lambda package) see them.
import type { Agent as AgentType, Pool as PoolType } from 'undici'
import AgentClass from 'undici/lib/dispatcher/agent.js'
import PoolClass from 'undici/lib/dispatcher/pool.js'
import Dispatcher from 'undici/lib/dispatcher/dispatcher.js'
import api from 'undici/lib/api/index.js'

// What undici's index does: request(), stream(), pipeline()… become methods of every dispatcher.
if (!('request' in Dispatcher.prototype)) Object.assign(Dispatcher.prototype, api)

export const Agent = AgentClass
export const Pool = PoolClass
export type Agent = AgentType
export type Pool = PoolType
