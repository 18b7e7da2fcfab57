// Sorts the agents' CPU-profile frames of a bench run (COLONY_BENCH_CPU_PROF=DIR) into buckets — the Wire, colony's
// wire path, block copies, Node's streams, hashing, disk, socket writes, GC — per agent, self time while pieces move
// (idle left out, as profile-agents.ts), so two trees' profiles compare bucket by bucket.
//   node bench/swarm/profile-buckets.ts DIR
import { readdir } from 'node:fs/promises'
import { summariseProfiles } from '../transfer/profile.ts'

/** Functions that mark piece traffic (as in profile-agents.ts): a leecher's first block, a seeder's first request. */
const PIECE_TRAFFIC = /^(#onBlock|#onRequest|_onRequest|_onPiece)$/

const dir = process.argv[2]
if (!dir) throw new Error('usage: node bench/swarm/profile-buckets.ts DIR')
const buckets: [string, RegExp][] = [
  ['block copies into piece buffers', /^(#onBlock|block) src\/swarm\/engines\/native\/(torrent|pieces\/pieces-in-flight)\.ts/],
  ['bittorrent-protocol Wire', /bittorrent-protocol/],
  ['colony wire path (feeder, guard, messages, connection, peer)', /native\/(wire\/|connection|peer\.ts)/],
  ['colony torrent/engine JS', /native\/|swarm\//],
  ['Node streams, net, events, timers', /node:(internal\/streams|net|events|internal\/stream_base|internal\/process\/task_queues|internal\/timers|timers|internal\/event_target)/],
  ['SHA-1 / SHA-256', /^(hash|update|digest) node:internal\/crypto/],
  ['piece writes / reads (fs)', /^(writeBuffer|read|close|openFileHandle|fstat|open)( |$)/],
  ['socket writev / writes', /^(writev|writeLatin1String|writeUtf8String)( |$)/],
  ['garbage collector', /\(garbage collector\)/],
  ['HTTP (announces, API, etcd)', /node:_http|node:http|undici|grpc|etcd|node:internal\/url/],
  ['(program) and other', /./],
]
const files = (await readdir(dir)).filter((n) => n.endsWith('.cpuprofile')).sort()
for (const file of files) {
  const r = await summariseProfiles(dir, 100000, (n) => n === file, { from: PIECE_TRAFFIC, busyOnly: true })
  const sums = new Map<string, number>()
  for (const f of r.frames) {
    const b = buckets.find(([, re]) => re.test(f.frame))?.[0] ?? 'other'
    sums.set(b, (sums.get(b) ?? 0) + f.selfMs)
  }
  process.stdout.write(`\n${file}: ${r.totalMs} ms busy while pieces move\n| bucket | self ms | share |\n|---|---:|---:|\n`)
  for (const [b] of buckets) process.stdout.write(`| ${b} | ${Math.round(sums.get(b) ?? 0)} | ${(((sums.get(b) ?? 0) / r.totalMs) * 100).toFixed(1)} % |\n`)
}
