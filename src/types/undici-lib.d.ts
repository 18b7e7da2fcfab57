// undici's own modules that its index assembles (no types of their own: undici types only its index). The S3 PUT
// path imports its pool from here to skip loading fetch, WebSocket, caches and mocks (adapters/undici-lean.ts).
declare module 'undici/lib/dispatcher/pool.js' {
  import type { Pool } from 'undici'
  const PoolClass: typeof Pool
  export default PoolClass
}
declare module 'undici/lib/dispatcher/dispatcher.js' {
  const Dispatcher: { prototype: object }
  export default Dispatcher
}
declare module 'undici/lib/api/index.js' {
  const api: Record<string, unknown>
  export default api
}
