// colony/transfer — the public API of the transfer subsystem: the embedded engine's entry point with its options,
// events and report, the defaults, the error class and codes, and the Source/Destination interfaces adapters
// implement. Everything else (the core's pieces, the adapters, the distributed engine behind `colony transfer
// --redis`) is imported by path inside the package. docs/transfer.md "## API" lists every export.
export { runTransfer, type TransferOptions } from './embedded/engine.ts'
export type { TransferEvents } from './core/events.ts'
export { formatSummary } from './core/report.ts'
export { TRANSFER_DEFAULTS, type TransferDefaults } from './defaults.ts'
export { TransferError, TRANSFER_CODES, type TransferErrorCode, type TransferErrorOptions } from './errors.ts'
export type { ClassReport, FileKind, FileRef, RunReport, SkipReason } from './core/types.ts'
export type { Destination, PutInfo, Source, SourceObject, StoredObject } from './core/ports.ts'
export type { S3Options } from './adapters/s3-client.ts'
export { runCheck, type CheckOptions } from './embedded/check.ts'
export { formatCheckSummary, type CheckReport, type CheckClassReport, type CheckItem } from './core/check/check-report.ts'
export { parseRewriteRules, type RewriteRule } from './core/rewrite-uri.ts'
