// The HTTP client of the swarm, live and demo commands, Node's built-in fetch() included: the undici package colony
// depends on, not the copy bundled in Node. undici's setGlobalDispatcher also registers it under the symbol Node's
// fetch reads, so one call as a command starts covers both. HTTP/2 stays off: connection counts mean parallel HTTP/1.1
// requests. `colony transfer` reads origins with its own client and never loads undici's index.
import { Agent, setGlobalDispatcher } from 'undici'

let installed = false

/** Makes colony's undici Agent the process-wide dispatcher (idempotent). */
export function installHttpDispatcher(): void {
  if (installed) return
  installed = true
  setGlobalDispatcher(new Agent({ allowH2: false }))
}
