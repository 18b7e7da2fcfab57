// Child of undici-paused-eof.test.ts: Node's built-in fetch() after colony installed its HTTP dispatcher, the body
// held unread for `holdMs`, then read. It imports nothing else of undici, so without the dispatcher the request goes
// through the undici bundled in Node. Prints {"bytes","sha256"} as JSON; an uncaught crash exits non-zero.
import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { installHttpDispatcher } from '../../src/shared/http-dispatcher.ts'

const [url, holdMs] = process.argv.slice(2)
installHttpDispatcher()
const res = await fetch(url as string)
if (!res.body) throw new Error('no body')
await sleep(Number(holdMs))
const hash = createHash('sha256')
let bytes = 0
for await (const chunk of res.body) { bytes += chunk.length; hash.update(chunk) }
console.log(JSON.stringify({ bytes, sha256: hash.digest('hex') }))
