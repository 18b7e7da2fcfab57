// The bench's library: many small-to-medium HLS classes (per-file overhead dominates) plus a few classes of
// ~2 MB segments (throughput dominates), sized from a file count and a byte budget.
import { generateSampleLibrary, type SampleClassSpec, type SampleLibrary, type SampleVariantSpec } from '../../src/demo/transfer-sample/index.ts'

export type BenchLibraryOptions = {
  /** Total files wanted (playlists included). */
  files: number
  /** Total bytes wanted. */
  bytes: number
  /** How many of the files are ~2 MB segments. */
  largeFiles: number
  seed?: number
}

export type BenchLibrary = { library: SampleLibrary; smallClasses: string[]; largeClasses: string[] }

const SEGMENTS = 50
const LADDER_WEIGHTS = [0.25, 0.6, 1.2, 1.95] // mean 1.0: a 4-rung ladder around the average segment size
const LARGE_SEGMENT = 2 * 1024 * 1024

export function buildBenchLibrary(o: BenchLibraryOptions): BenchLibrary {
  const largeClassCount = o.largeFiles > 0 ? Math.max(1, Math.round(o.largeFiles / SEGMENTS)) : 0
  const largeSegments = largeClassCount ? Math.max(1, Math.round(o.largeFiles / largeClassCount)) : 0
  const largeBytes = largeClassCount * largeSegments * LARGE_SEGMENT * 0.85 // jitter clamps at 2 MiB: mean ≈ 0.85 × 2 MiB
  const perSmallClass = LADDER_WEIGHTS.length * (SEGMENTS + 1) + 1
  const smallClassCount = Math.max(1, Math.round((o.files - largeClassCount * (largeSegments + 2)) / perSmallClass))
  const avg = Math.max(200, (o.bytes - largeBytes) / (smallClassCount * LADDER_WEIGHTS.length * SEGMENTS))
  const ladder: SampleVariantSpec[] = LADDER_WEIGHTS.map((w, i) => ({ name: `v${i}`, bandwidth: Math.round((avg * w * 8) / 4), segmentBytes: Math.round(avg * w) }))
  const specs: SampleClassSpec[] = []
  const smallClasses: string[] = []
  const largeClasses: string[] = []
  for (let i = 0; i < smallClassCount; i++) {
    const id = `s${String(i).padStart(5, '0')}`
    smallClasses.push(id)
    specs.push({ id, variants: ladder, segments: SEGMENTS })
  }
  for (let i = 0; i < largeClassCount; i++) {
    const id = `l${String(i).padStart(5, '0')}`
    largeClasses.push(id)
    specs.push({ id, variants: [{ name: 'hi', bandwidth: 4_000_000, segmentBytes: LARGE_SEGMENT }], segments: largeSegments })
  }
  const library = generateSampleLibrary({ seed: o.seed ?? 42, classes: specs, nonTransferable: false, prefix: 'vod' })
  return { library, smallClasses, largeClasses }
}

/** The far-origin bench's library shapes: per-file cost (tiny), a VOD mix (mid), bytes (large). */
export type LibraryShape = 'tiny' | 'mid' | 'large'
export const LIBRARY_SHAPES: readonly LibraryShape[] = ['tiny', 'mid', 'large']

// Mean segment size and the ladder around it (±30% jitter per segment on top): tiny ≈ 100–400 B, mid ≈ 50–200 KB.
const SHAPE_SIZES = { tiny: 250, mid: 125_000 } as const
const SHAPE_LADDER = [0.4, 0.8, 1.2, 1.6]

/** A library of one shape with about `files` files under `<prefix>/`. */
export function buildShapeLibrary(shape: LibraryShape, files: number, prefix: string, seed = 42): SampleLibrary {
  const specs: SampleClassSpec[] = []
  if (shape === 'large') {
    const classes = Math.max(1, Math.round(files / SEGMENTS))
    for (let i = 0; i < classes; i++) specs.push({ id: `l${String(i).padStart(5, '0')}`, variants: [{ name: 'hi', bandwidth: 4_000_000, segmentBytes: LARGE_SEGMENT }], segments: Math.max(1, Math.round(files / classes)) })
  } else {
    const avg = SHAPE_SIZES[shape]
    const ladder: SampleVariantSpec[] = SHAPE_LADDER.map((w, i) => ({ name: `v${i}`, bandwidth: Math.round((avg * w * 8) / 4), segmentBytes: Math.round(avg * w) }))
    const classes = Math.max(1, Math.round(files / (SHAPE_LADDER.length * (SEGMENTS + 1) + 1)))
    for (let i = 0; i < classes; i++) specs.push({ id: `s${String(i).padStart(5, '0')}`, variants: ladder, segments: SEGMENTS })
  }
  return generateSampleLibrary({ seed, classes: specs, nonTransferable: false, prefix })
}
