// The part of undici the S3 PUT path uses (Pool and its request()), imported from its own modules: undici's index
// also loads fetch, WebSocket, EventSource, caches and mocks, about 100 ms of CPU per thread, which every copy
// worker thread would pay at every run. Static imports, so that bundlers (the Lambda package) see them.
import type { Pool as PoolType } from 'undici'
import PoolClass from 'undici/lib/dispatcher/pool.js'
import Dispatcher from 'undici/lib/dispatcher/dispatcher.js'
import api from 'undici/lib/api/index.js'

// What undici's index does: request(), stream(), pipeline()… become methods of every dispatcher.
if (!('request' in Dispatcher.prototype)) Object.assign(Dispatcher.prototype, api)

export const Pool = PoolClass
export type Pool = PoolType
