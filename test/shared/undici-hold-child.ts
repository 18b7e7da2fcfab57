// Child of undici-paused-eof.test.ts: one undici request() whose body is held unread for `holdMs`, then read.
// Prints {"bytes","sha256"} or {"error"} as JSON and exits 0; an uncaught crash exits non-zero.
import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'

const [url, holdMs] = process.argv.slice(2)
try {
  const res = await request(url as string)
  await sleep(Number(holdMs))
  const hash = createHash('sha256')
  let bytes = 0
  for await (const chunk of res.body) { bytes += (chunk as Buffer).length; hash.update(chunk as Buffer) }
  console.log(JSON.stringify({ bytes, sha256: hash.digest('hex') }))
} catch (err) {
  console.log(JSON.stringify({ error: (err as { code?: string }).code ?? 'unknown', message: (err as Error).message }))
}
