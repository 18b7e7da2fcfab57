// cli-progress ships no types: the single bar `colony swarm get` and `colony transfer` draw on stderr.
declare module 'cli-progress' {
  export interface Bar {
    start(total: number, value: number, payload?: Record<string, unknown>): void
    update(value: number, payload?: Record<string, unknown>): void
    setTotal(total: number): void
    stop(): void
  }
  /** A CommonJS module: its exports object is the default export under Node's ESM loader. */
  const cliProgress: {
    SingleBar: new (options: Record<string, unknown>, preset: unknown) => Bar
    Presets: { shades_classic: unknown }
  }
  export default cliProgress
}
