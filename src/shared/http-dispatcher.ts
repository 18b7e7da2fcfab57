// The HTTP client every colony process uses, Node's built-in fetch() included: the undici package colony depends on,
// not the copy bundled in Node. undici's setGlobalDispatcher also registers it under the symbol Node's fetch reads,
// so one call at start-up covers both. HTTP/2 stays off: connection counts mean parallel HTTP/1.1 requests.
import { Agent, setGlobalDispatcher } from 'undici'

let installed = false

/** Makes colony's undici Agent the process-wide dispatcher (idempotent). */
export function installHttpDispatcher(): void {
  if (installed) return
  installed = true
  setGlobalDispatcher(new Agent({ allowH2: false }))
}
