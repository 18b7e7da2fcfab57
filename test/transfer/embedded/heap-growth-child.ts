// A child for heap-growth.test.ts: holds a live set, then keeps promoting batches of objects that die in the old
// generation, and prints the largest old space it saw (bytes). `limit` calls limitHeapGrowth(20) first.
import v8 from 'node:v8'
import { limitHeapGrowth } from '../../../src/transfer/embedded/heap-growth.ts'

if (process.argv[2] === 'limit') limitHeapGrowth(20)
const live: Array<{ a: number; b: string }> = []
for (let i = 0; i < 100_000; i++) live.push({ a: i, b: `x${i}` })
let batch: Array<{ i: number; s: string }> = []
let max = 0
for (let round = 0; round < 1500; round++) {
  for (let i = 0; i < 2000; i++) batch.push({ i, s: `y${i}.${round}` })
  if (batch.length > 200_000) batch = []
  max = Math.max(max, v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')?.space_size ?? 0)
}
process.stdout.write(`${max} ${live.length}\n`)
