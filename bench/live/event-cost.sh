#!/bin/bash
# CPU per published event, per server process: `colony live serve --workers 2 --coalesce none` with few viewers
# (default 20, so the per-event cost dominates), 100 comments/s over 10 topics from the load generator
# (bench/live/run.ts load), and utime+stime of the primary and each worker from /proc over 5 s of the measured window.
# Usage (under the benchmark lock): flock -x /work/scratch/cpu.lock bench/live/event-cost.sh [viewers] [checkout dir]
# The checkout dir (default: this one) runs the server from another `git archive` of bin/ src/; the generator
# always comes from this checkout.
set -euo pipefail
VIEWERS=${1:-20}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=${2:-$(cd "$HERE/../.." && pwd)}
export PATH=$ROOT/node_modules/.bin:$PATH
cd "$ROOT"
PORT=$((18000 + RANDOM % 1000))
setsid node bin/colony.js live serve --workers 2 --coalesce none --token event-cost --port $PORT >/dev/null 2>&1 &
SERVER=$!
trap 'kill -TERM -- -$SERVER 2>/dev/null || true' EXIT
sleep 3
PIDS="$SERVER $(pgrep -P $SERVER | tr '\n' ' ')"
OUT=$(mktemp)
node "$HERE/run.ts" load --url http://127.0.0.1:$PORT --token event-cost -c "$VIEWERS" -t 10 -r 100 --duration 10s --warmup 2s >"$OUT" 2>&1 &
BENCH=$!
sleep 7   # connect + warm-up + 2 s into the window
ticks() { for p in $PIDS; do echo "$p $(awk '{print $14+$15}' /proc/$p/stat)"; done; }
A=$(ticks); sleep 5; B=$(ticks)
HZ=$(getconf CLK_TCK)
join <(echo "$A") <(echo "$B") | awk -v hz="$HZ" -v s="$SERVER" '{ ms = ($3-$2) * 1000 / hz / 500; t += ms; printf "%-8s pid %s: %.2f ms CPU per event\n", ($1==s ? "primary" : "worker"), $1, ms } END { printf "total    %.2f ms CPU per event (100 events/s, 5 s)\n", t }'
wait $BENCH || true
grep -E "deliveries|latency" "$OUT" || true
rm -f "$OUT"
