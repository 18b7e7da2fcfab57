// Summarises the agents' CPU profiles of a bench run (COLONY_BENCH_CPU_PROF=DIR): per agent, the top frames by
// self time while pieces move — from the first sample that handles a block or a request, idle left out — so
// start-up (module loading, type stripping) and the seeder's own fetch from the origin do not hide the per-byte path.
//   COLONY_BENCH_CPU_PROF=/tmp/prof node bench/swarm/run.ts --mode cpu --size 64MB --cpu-agents 6
//   node bench/swarm/profile-agents.ts /tmp/prof [--top 15]
import { readdir } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { summariseProfiles } from '../transfer/profile.ts'

/** Functions that mark piece traffic: a leecher's first block, a seeder's first request. */
const PIECE_TRAFFIC = /^(#onBlock|#onRequest|_onRequest|_onPiece)$/

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '15' } } })
const dir = positionals[0]
if (!dir) throw new Error('usage: node bench/swarm/profile-agents.ts DIR [--top N]')
const agents = (await readdir(dir)).filter((n) => n.endsWith('.cpuprofile')).sort()
for (const file of agents) {
  const r = await summariseProfiles(dir, Number(values.top), (n) => n === file, { from: PIECE_TRAFFIC, busyOnly: true })
  process.stdout.write(`\n${file}: ${r.totalMs} ms busy while pieces move\n| self ms | share | frame |\n|---:|---:|---|\n`)
  for (const f of r.frames) process.stdout.write(`| ${f.selfMs} | ${(f.share * 100).toFixed(1)} % | \`${f.frame}\` |\n`)
}
