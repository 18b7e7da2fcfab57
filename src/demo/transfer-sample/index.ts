// Synthetic HLS libraries and a fault-injecting origin: used by `colony demo`, the tests and the benchmark.
export { generateSampleLibrary, SampleLibrary, DEFAULT_LADDER, contentTypeOf } from './library.ts'
export type { SampleLibraryOptions, SampleClassSpec, SampleVariantSpec, SampleFile, SampleClass, SampleCatalogEntry } from './library.ts'
export { startSampleOrigin } from './origin.ts'
export type { SampleOrigin, SampleOriginOptions, SampleOriginFaults, SampleOriginStats, FaultKind } from './origin.ts'
export { MAX_SAMPLE_FILE_BYTES } from './content.ts'
