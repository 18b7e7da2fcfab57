// A BitTorrent listen port for aria2. aria2 binds it only when its first torrent starts, which can be minutes
// after the agent started. A port found free by bind(0) comes from the kernel's ephemeral range, which every
// outgoing connection on the host draws from in the meantime, so aria2 may fail with "Errors occurred while binding
// port" (one agent in a bench of 16). Ports below that range are never handed out implicitly.
// For the same reason two agents started together can both find one port free: each reserves its pick.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

const FALLBACK_EPHEMERAL_LOW = 32768
const LOWEST = 10000

async function ephemeralLow(): Promise<number> {
  try {
    const [low] = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).trim().split(/\s+/).map(Number)
    return low && Number.isFinite(low) ? low : FALLBACK_EPHEMERAL_LOW
  } catch { return FALLBACK_EPHEMERAL_LOW }
}

function isFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer()
    srv.once('error', () => resolve(false))
    srv.listen(port, host, () => srv.close(() => resolve(true)))
  })
}

/** This host's reservations: a file per port naming the agent process that holds it. */
const reservations = (): string => path.join(os.tmpdir(), 'colony-swarm-ports')

function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

/** Claims `port` for this process unless a live process holds it; a reservation of a dead one is taken over. */
export async function reserveListenPort(port: number): Promise<boolean> {
  const file = path.join(reservations(), String(port))
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await mkdir(reservations(), { recursive: true })
      await writeFile(file, String(process.pid), { flag: 'wx' })
      return true
    } catch (err) {
      // Nowhere to keep reservations (a read-only tmp): the bind check alone, as before.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return true
      const owner = Number(await readFile(file, 'utf8').catch(() => '0'))
      if (owner === process.pid || (owner > 0 && isAlive(owner))) return false
      await rm(file, { force: true })
    }
  }
  return false
}

/** Gives back a port from pickListenPort (when the engine closes; a killed agent's is taken over later). */
export async function releaseListenPort(port: number): Promise<void> {
  const file = path.join(reservations(), String(port))
  const owner = Number(await readFile(file, 'utf8').catch(() => '0'))
  if (owner === process.pid) await rm(file, { force: true })
}

/**
 * A free port (on every address, as aria2 binds) from below the ephemeral range, reserved for this process
 * against the host's other agents; bind(0)'s pick if there is no room.
 */
export async function pickListenPort(): Promise<number> {
  const high = (await ephemeralLow()) - 1
  if (high - LOWEST >= 1000) {
    for (let tries = 0; tries < 50; tries++) {
      const port = LOWEST + Math.floor(Math.random() * (high - LOWEST + 1))
      if (await isFree(port, '0.0.0.0') && await reserveListenPort(port)) return port
    }
  }
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '0.0.0.0', () => {
      const { port } = srv.address() as net.AddressInfo
      srv.close(() => resolve(port))
    })
  })
}
