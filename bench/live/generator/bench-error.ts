import { ColonyError, type ColonyErrorOptions } from '../../../src/shared/errors.ts'

/**
 * Failures of the live benchmark itself (not of the server under test, whose refusals are counted, not thrown).
 * - LIVE_BENCH_SERVER: a server the run started did not come up, or exited
 * - LIVE_BENCH_TARGET: the target is not a loopback http URL, or its server processes cannot be found
 * - LIVE_BENCH_GENERATOR: a generator process died mid-run
 */
export type BenchErrorCode = 'LIVE_BENCH_SERVER' | 'LIVE_BENCH_TARGET' | 'LIVE_BENCH_GENERATOR'

export class BenchError extends ColonyError {
  constructor(code: BenchErrorCode, message: string, options: ColonyErrorOptions = {}) {
    super(code, message, options)
  }
}
