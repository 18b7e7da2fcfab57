// Child of http-source-close.test.ts: copies one HTTP object to a directory through copyFile's streaming path,
// behind a destination that accepts bytes only after `delayMs` (storage slower than the origin), so the body waits
// unread meanwhile. Prints the CopyOutcome as JSON and exits 0; an uncaught crash exits non-zero.
import { mkdir } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { DirDestination } from '../../../src/transfer/adapters/dir-destination.ts'
import { HttpSource } from '../../../src/transfer/adapters/http-source.ts'
import { copyFile } from '../../../src/transfer/core/copy-file.ts'
import type { Destination } from '../../../src/transfer/index.ts'

const [url, dir, delayMs] = process.argv.slice(2) as [string, string, string]
await mkdir(dir, { recursive: true })
const source = new HttpSource()
const dir$ = new DirDestination(dir)
const slow: Destination = {
  put: async (key, body, info) => { await sleep(Number(delayMs)); return dir$.put(key, body, info) },
  stat: (key) => dir$.stat(key),
  describe: () => dir$.describe(),
}
// bufferLimit 0: every body streams into the destination (the path of files over the in-memory limit).
const outcome = await copyFile({ source: url, key: 'object.bin', kind: 'segment' }, { source, destination: slow, bufferLimit: 0, checkExisting: false })
await source.close()
console.log(JSON.stringify(outcome))
