// What the hub needs of a viewer's connection. A node:net Socket is one; the core names only these
// members, so it knows no transport and a test may hand it any stream that behaves the same.

export interface ViewerSocket {
  readonly destroyed: boolean
  /** Bytes written but not yet handed to the kernel: how far the viewer lags. */
  readonly writableLength: number
  write(chunk: Buffer): boolean
  /** Writes a last chunk, then half-closes. */
  end(chunk: Buffer): unknown
  destroy(): unknown
  setNoDelay(noDelay: boolean): unknown
  on(event: 'error', listener: (err: Error) => void): unknown
  once(event: 'close' | 'drain', listener: () => void): unknown
  off(event: 'close', listener: () => void): unknown
}
