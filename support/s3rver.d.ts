declare module 's3rver' {
  type Options = { port?: number; address?: string; silent?: boolean; directory?: string; resetOnClose?: boolean; configureBuckets?: Array<{ name: string; configs: unknown[] }>; key?: Buffer; cert?: Buffer }
  export default class S3rver {
    constructor(options: Options)
    run(): Promise<unknown>
    close(): Promise<void>
  }
}
