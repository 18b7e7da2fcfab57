// What one announce sends and gets back, whatever the transport, and the compact peer lists of BEP 23 (IPv4, 6
// bytes a peer) and BEP 7 (IPv6, 18 bytes) in the "ip:port" / "[ip]:port" form the engine dials.

/** BEP 3's event names; none = a regular announce. */
export type AnnounceEvent = 'started' | 'completed' | 'stopped'

export type AnnounceRequest = {
  /** 20 raw bytes each. */
  infoHash: Buffer
  peerId: Buffer
  port: number
  uploaded: number
  downloaded: number
  left: number
  event: AnnounceEvent | undefined
  /** Identifies this client to the tracker across address changes (BEP 3/15 `key`). */
  key: number
  numwant: number
  /** Deadline and cancellation of this announce. */
  signal: AbortSignal
}

export type AnnounceAnswer = {
  peers: string[]
  /** Seconds, as the tracker said; undefined if it named none or a bad one. */
  interval: number | undefined
  minInterval: number | undefined
  /** A tracker's `warning message` (BEP 3 extension), for the caller to report. */
  warning?: string
}

/** An announce that failed: the tracker's `failure reason`, a malformed answer, a timeout. Reported as a warning. */
export class AnnounceError extends Error {}

/** Printable text of untrusted bytes (a failure reason, a UDP error message), at most 200 bytes of it. */
export function printable(bytes: Buffer): string {
  return bytes.subarray(0, 200).toString('utf8').replace(/[^\x20-\x7e\u00a0-\uffff]/g, '?')
}

/** A compact IPv4 peer list; AnnounceError if its length is not a multiple of 6. */
export function compactPeers4(buf: Buffer): string[] {
  if (buf.length % 6 !== 0) throw new AnnounceError(`compact peers: ${buf.length} bytes is not a multiple of 6`)
  const out: string[] = []
  for (let i = 0; i < buf.length; i += 6) out.push(`${buf[i]}.${buf[i + 1]}.${buf[i + 2]}.${buf[i + 3]}:${buf.readUInt16BE(i + 4)}`)
  return out
}

/** A compact IPv6 peer list as "[ip]:port" (ip in its shortest form); AnnounceError if not a multiple of 18 bytes. */
export function compactPeers6(buf: Buffer): string[] {
  if (buf.length % 18 !== 0) throw new AnnounceError(`compact peers6: ${buf.length} bytes is not a multiple of 18`)
  const out: string[] = []
  for (let i = 0; i < buf.length; i += 18) {
    const groups: string[] = []
    for (let g = 0; g < 8; g++) groups.push(buf.readUInt16BE(i + g * 2).toString(16))
    // The URL parser writes an IPv6 address in its canonical shortest form, brackets included.
    out.push(`${new URL(`http://[${groups.join(':')}]`).hostname}:${buf.readUInt16BE(i + 16)}`)
  }
  return out
}
