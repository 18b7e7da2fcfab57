// A BitTorrent listen port for aria2. aria2 binds it only when its first torrent starts, which can be minutes
// after the agent started. A port found free by bind(0) comes from the kernel's ephemeral range, which every
// outgoing connection on the host draws from in the meantime: a bench of 16 agents lost one agent to
// "Errors occurred while binding port". Ports below that range are never handed out implicitly.
import { readFile } from 'node:fs/promises'
import net from 'node:net'

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

/** A free port (on every address, as aria2 binds) from below the ephemeral range; bind(0)'s pick if there is no room. */
export async function pickListenPort(): Promise<number> {
  const high = (await ephemeralLow()) - 1
  if (high - LOWEST >= 1000) {
    for (let tries = 0; tries < 50; tries++) {
      const port = LOWEST + Math.floor(Math.random() * (high - LOWEST + 1))
      if (await isFree(port, '0.0.0.0')) return port
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
