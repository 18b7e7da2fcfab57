// Probe (not part of the suite): CPU of N small GETs against nginx on loopback, one request per connection at a time
// versus D pipelined per connection with one write per batch of requests.
//   node bench/transfer/pipeline-probe.ts [--files 6000] [--conns 64] [--depth 1,4,8] [--reps 3]
import net from 'node:net'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { startNginx } from '../../support/services.ts'
import { treeCpuSeconds } from '../swarm/proc-stats.ts'

const { values: f } = parseArgs({ options: { files: { type: 'string', default: '6000' }, conns: { type: 'string', default: '64' }, depth: { type: 'string', default: '1,4,8' }, reps: { type: 'string', default: '3' } } })
const files = Number(f.files)
const root = `/dev/shm/pipeline-probe-${process.pid}`
await mkdir(path.join(root, 'v'), { recursive: true })
for (let i = 0; i < files; i++) await writeFile(path.join(root, 'v', `s${i}.ts`), Buffer.alloc(100 + (i * 37) % 300, 65))
const nginx = await startNginx({ root, workers: 2 })

async function run(conns: number, depth: number): Promise<{ wall: number; cpu: number; origin: number; writes: number }> {
  let next = 0
  let done = 0
  let writes = 0
  const o0 = treeCpuSeconds(nginx.proc?.pid ?? 0)
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  const req = (): string => `GET /v/s${next++}.ts HTTP/1.1\r\nhost: 127.0.0.1\r\nuser-agent: probe\r\naccept: */*\r\n\r\n`
  await new Promise<void>((resolve) => {
    for (let c = 0; c < conns; c++) {
      const s = net.connect(nginx.port, '127.0.0.1')
      s.setNoDelay(true)
      let buf: Buffer = Buffer.alloc(0)
      let out = 0
      const send = (): void => {
        let text = ''
        while (out < depth && next < files) { text += req(); out++ }
        if (text) { s.write(text); writes++ }
      }
      s.on('connect', send)
      s.on('data', (d: Buffer) => {
        buf = buf.length ? Buffer.concat([buf, d]) : d
        for (;;) {
          const i = buf.indexOf('\r\n\r\n')
          if (i < 0) break
          const m = /content-length: (\d+)/i.exec(buf.toString('latin1', 0, i))
          const end = i + 4 + Number(m?.[1] ?? 0)
          if (buf.length < end) break
          buf = buf.subarray(end)
          out--
          if (++done === files) { resolve(); break }
        }
        if (done < files) send()
      })
    }
  })
  const wall = performance.now() - t0
  const c = process.cpuUsage(c0)
  return { wall: wall / 1000, cpu: (c.user + c.system) / 1e6, origin: treeCpuSeconds(nginx.proc?.pid ?? 0) - o0, writes }
}

try {
  for (let r = 0; r < Number(f.reps); r++) {
    for (const d of f.depth.split(',').map(Number)) {
      const x = await run(Number(f.conns), d)
      process.stdout.write(`depth ${d}: wall ${x.wall.toFixed(2)} s, client cpu ${x.cpu.toFixed(2)} s, nginx cpu ${x.origin.toFixed(2)} s, writes ${x.writes}\n`)
    }
  }
} finally {
  await nginx.stop()
  await rm(root, { recursive: true, force: true })
}
