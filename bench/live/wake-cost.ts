// What waking a Node process for one small message costs at a low rate (the unit of colony live's per-event
// CPU): the parent sends 100 messages/s to a child that parses and echoes each one, over cluster-style IPC
// (process.send) and over a unix socket with newline-delimited JSON; CPU from /proc per process.
// Also: one socket write through the stream layer vs fs.writeSync on the socket's fd.
// Usage (under the benchmark lock): node bench/live/wake-cost.ts [seconds per measurement, default 10]
import { fork } from 'node:child_process'
import { readFileSync, rmSync, writeSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

const MESSAGE = { live: 1, t: 'ev', events: [{ topic: 't3', id: 1234, type: 'comment', data: '{"bt":1234567890123,"s":12345}', ts: 1763930000000 }] }
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

function cpuTicks(pid: number): number {
  const fields = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ')
  return Number(fields[11]) + Number(fields[12])
}

function child(mode: string, sock: string): void {
  if (mode === 'reader') {
    // `sock` is the port here: open 1,000 connections, read and drop everything.
    let open = 0
    for (let i = 0; i < 1000; i++) {
      const c = net.connect(Number(sock), '127.0.0.1')
      c.on('connect', () => { if (++open === 1000) process.send?.('ready') })
      c.on('data', () => undefined)
      c.on('error', () => undefined)
    }
    process.on('message', () => process.exit(0))
    return
  }
  if (mode === 'ipc') { process.on('message', (m) => { process.send?.(m) }); return }
  const s = net.connect(sock)
  let buf = ''
  s.setEncoding('utf8')
  s.on('data', (d: string) => {
    buf += d
    for (let i = buf.indexOf('\n'); i !== -1; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i)
      buf = buf.slice(i + 1)
      s.write(`${JSON.stringify(JSON.parse(line))}\n`)
    }
  })
  process.on('message', () => process.exit(0))
}

async function echo(mode: 'ipc' | 'unix', seconds: number): Promise<string> {
  const sock = path.join(os.tmpdir(), `colony-wake-cost-${process.pid}.sock`)
  rmSync(sock, { force: true })
  let conn: net.Socket | undefined
  const server = net.createServer((c) => { conn = c })
  await new Promise<void>((r) => server.listen(sock, r))
  const proc = fork(new URL(import.meta.url).pathname, ['--child', mode, sock])
  if (mode === 'unix') while (!conn) await sleep(10)
  await sleep(500)
  let got = 0
  const send = mode === 'ipc' ? (): void => { proc.send(MESSAGE) } : (): void => { conn?.write(`${JSON.stringify(MESSAGE)}\n`) }
  if (mode === 'ipc') proc.on('message', () => { got++ })
  else { conn?.setEncoding('utf8'); conn?.on('data', (d: string) => { got += d.split('\n').length - 1 }) }
  const c0 = cpuTicks(proc.pid as number)
  const timer = setInterval(send, 10)
  await sleep(seconds * 1000)
  clearInterval(timer)
  const c1 = cpuTicks(proc.pid as number)
  proc.send('exit')
  proc.kill()
  conn?.destroy()
  server.close()
  rmSync(sock, { force: true })
  const hz = 100 // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s on Linux
  return `${mode === 'ipc' ? 'process.send (cluster IPC)' : 'unix socket, own framing'}: ${(((c1 - c0) / hz) * 1e6 / Math.max(1, got)).toFixed(0)} µs CPU in the woken process per message (${got} messages)`
}

async function writes(rounds: number): Promise<string[]> {
  const n = 1000 // the reader child opens this many
  const socks: net.Socket[] = []
  const server = net.createServer({ noDelay: true }, (s) => { s.on('error', () => undefined); socks.push(s) })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as net.AddressInfo).port
  const reader = fork(new URL(import.meta.url).pathname, ['--child', 'reader', String(port)])
  await new Promise((r) => reader.once('message', r))
  while (socks.length < n) await sleep(10)
  const frame = Buffer.from('event: comment\nid: 12345\ndata: {"bt":1234567890123,"s":12345}\n\n')
  const out: string[] = []
  for (const mode of ['stream', 'fd', 'stream', 'fd', 'fd', 'stream']) {
    const t0 = process.cpuUsage()
    for (let r = 0; r < rounds; r++) {
      for (const s of socks) {
        const fd = (s as unknown as { _handle?: { fd?: number } })._handle?.fd
        if (mode === 'stream' || fd === undefined || s.writableLength > 0) { s.write(frame); continue }
        let done = 0
        try { done = writeSync(fd, frame) } catch { done = 0 }
        if (done < frame.length) s.write(frame.subarray(done))
      }
      await sleep(2)
    }
    const t = process.cpuUsage(t0)
    out.push(`${mode === 'stream' ? 'socket.write    ' : 'fs.writeSync(fd)'}: ${(((t.user + t.system) / (n * rounds))).toFixed(2)} µs CPU per 60-byte write to a loopback socket (writer process)`)
  }
  reader.send('exit')
  for (const s of socks) s.destroy()
  server.close()
  return out
}

if (process.argv[2] === '--child') {
  child(process.argv[3] ?? 'ipc', process.argv[4] ?? '')
} else {
  const seconds = Number(process.argv[2] ?? 10)
  for (const mode of ['ipc', 'unix', 'ipc', 'unix'] as const) console.log(await echo(mode, seconds))
  for (const line of await writes(200)) console.log(line)
}
