// A scripted HTTP/1.1 origin over raw TCP for the client's tests: every request (the bytes up to a blank line) goes
// to `answer` in order, each once the previous one's answer (which may be a promise) settled, as an HTTP/1.1 server
// answers pipelined requests. It counts connections and the most requests that arrived in one read.
import net from 'node:net'

export type ScriptedConn = { index: number; socket: net.Socket; answered: number; chain: Promise<void> }
export type ScriptedOrigin = { url: string; connections: () => number; mostPerRead: () => number; close: () => Promise<void> }

export async function scripted(answer: (path: string, c: ScriptedConn, nth: number) => void | Promise<void>): Promise<ScriptedOrigin> {
  let connections = 0
  let mostPerRead = 0
  let nth = 0
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    const c: ScriptedConn = { index: connections++, socket, answered: 0, chain: Promise.resolve() }
    let pending = ''
    socket.on('data', (d: Buffer) => {
      pending += d.toString('latin1')
      let inRead = 0
      for (let i = pending.indexOf('\r\n\r\n'); i >= 0; i = pending.indexOf('\r\n\r\n')) {
        const path = pending.slice(0, i).split(' ')[1] ?? '/'
        const n = nth++
        pending = pending.slice(i + 4)
        inRead++
        c.chain = c.chain.then(() => { if (!socket.destroyed) return answer(path, c, n) })
      }
      mostPerRead = Math.max(mostPerRead, inRead)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as net.AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`, connections: () => connections, mostPerRead: () => mostPerRead,
    close: async () => { for (const s of sockets) s.destroy(); await new Promise<void>((r) => server.close(() => r())) },
  }
}
