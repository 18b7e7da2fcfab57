// Incoming connections that name a torrent not added yet wait for it, bounded in time and number.
import assert from 'node:assert/strict'
import net from 'node:net'
import { once } from 'node:events'
import { after, before, describe, test } from 'node:test'
import { ParkedConnections } from '../../../src/swarm/engines/native/parked-connections.ts'

describe('parked connections', { timeout: 10_000 }, () => {
  let server: net.Server
  const accepted: net.Socket[] = []
  const clients: net.Socket[] = []
  before(async () => {
    server = net.createServer((s) => { accepted.push(s); s.on('error', () => undefined) })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
  })
  after(async () => {
    for (const s of [...accepted, ...clients]) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  /** A real accepted socket (the server side of a fresh loopback connection). */
  const connection = async (): Promise<{ socket: net.Socket }> => {
    const before = accepted.length
    const c = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
    c.on('error', () => undefined)
    clients.push(c)
    await once(c, 'connect')
    while (accepted.length === before) await new Promise((r) => setImmediate(r))
    return { socket: accepted[accepted.length - 1] as net.Socket }
  }

  test('a parked connection is handed over to its torrent, once', async () => {
    const parked = new ParkedConnections<{ socket: net.Socket }>()
    const a = await connection()
    const b = await connection()
    parked.park('x', a)
    parked.park('y', b)
    assert.equal(parked.size, 2)
    assert.deepEqual(parked.take('x'), [a])
    assert.deepEqual(parked.take('x'), [], 'taken once')
    assert.equal(parked.size, 1)
    assert.equal(a.socket.destroyed, false, 'the connection stays open for its torrent')
    parked.take('y')
  })

  test('a connection whose torrent does not come is closed when its wait ends; a closed one leaves the queue', async () => {
    const parked = new ParkedConnections<{ socket: net.Socket }>({ waitMs: 50 })
    const a = await connection()
    parked.park('x', a)
    await once(a.socket, 'close')
    assert.equal(parked.size, 0)
    const b = await connection()
    parked.park('y', b)
    b.socket.destroy()
    await once(b.socket, 'close')
    assert.equal(parked.size, 0)
    assert.deepEqual(parked.take('y'), [])
  })

  test('beyond the limits a connection is closed at once', async () => {
    const parked = new ParkedConnections<{ socket: net.Socket }>({ max: 2, maxPerTorrent: 1 })
    const [a, b, c, d] = await Promise.all([connection(), connection(), connection(), connection()])
    parked.park('x', a)
    parked.park('x', b)
    assert.equal(b.socket.destroyed, true, 'one per torrent')
    parked.park('y', c)
    parked.park('z', d)
    assert.equal(d.socket.destroyed, true, 'two in all')
    assert.equal(parked.size, 2)
    parked.take('x')
    parked.take('y')
  })
})
