import { ColonyError, type ColonyErrorOptions } from '../../shared/errors.ts'

/**
 * Stable codes of the distributed engine (documented in docs/transfer-distributed.md).
 * Per-file copy errors keep the core's TRANSFER_* codes; these are about the coordination itself.
 */
export type DistributedErrorCode =
  | 'TRANSFER_DIST_RUN_CONFLICT'
  | 'TRANSFER_DIST_RUN_NOT_FOUND'
  | 'TRANSFER_DIST_BAD_JOB'
  | 'TRANSFER_DIST_LAMBDA_INVOKE'
  | 'TRANSFER_DIST_LAMBDA_FUNCTION'
  | 'TRANSFER_DIST_PACKAGE'

export class DistributedTransferError extends ColonyError {
  declare readonly code: DistributedErrorCode

  constructor(code: DistributedErrorCode, message: string, options: ColonyErrorOptions = {}) {
    super(code, message, options)
  }
}
