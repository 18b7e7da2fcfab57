// Incoming connections that name a torrent not added yet, or a full one, wait for it, oldest first, bounded in time
// and number.
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

  test('take(infoHash, n) hands over the n that waited longest, in the order they came; closed ones are skipped', async () => {
    const parked = new ParkedConnections<{ socket: net.Socket }>()
    const a = await connection()
    const b = await connection()
    const c = await connection()
    const d = await connection()
    for (const x of [a, b, c, d]) assert.equal(parked.park('x', x), true)
    assert.equal(parked.waitingFor('x'), 4)
    b.socket.destroy()
    assert.deepEqual(parked.take('x', 2), [a, c])
    assert.equal(parked.waitingFor('x'), 1)
    assert.deepEqual(parked.take('x', 0), [])
    assert.deepEqual(parked.take('x', 5), [d])
    assert.equal(parked.size, 0)
  })

  test('a connection whose torrent does not come is closed when its wait ends, and reported; a closed one leaves the queue', async () => {
    const expired: unknown[] = []
    const parked = new ParkedConnections<{ socket: net.Socket }>({ waitMs: 50, expired: (c) => expired.push(c) })
    const a = await connection()
    parked.park('x', a)
    await once(a.socket, 'close')
    assert.equal(parked.size, 0)
    assert.deepEqual(expired, [a])
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
    assert.equal(parked.park('x', a), true)
    assert.equal(parked.park('x', b), false)
    assert.equal(b.socket.destroyed, true, 'one per torrent')
    assert.equal(parked.park('y', c), true)
    assert.equal(parked.park('z', d), false)
    assert.equal(d.socket.destroyed, true, 'two in all')
    assert.equal(parked.size, 2)
    parked.take('x')
    parked.take('y')
  })
})
