#!/usr/bin/env bash
# postern's user and system CPU per relayed message, and its throughput: one run of
# scripts/bench-relay.sh with postern alone, the process's utime and stime read from
# /proc/PID/stat just before it exits. For an A/B of two builds, alternate them:
#
#   for r in 1 2 3; do for b in OLD NEW; do scripts/relay-cpu-split.sh $b 1024 10000; done; done
#
# Arguments: BINARY [SIZE (1024)] [MESSAGES (10000)].
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$(realpath "$1")"
size="${2:-1024}"
messages="${3:-10000}"
log="$(mktemp)"
POSTERN_BIN="$bin" SKIP_BUILD=1 MESSAGES="$messages" LAT_MESSAGES=0 SIZES="$size" MTAS=postern \
    "$root/scripts/bench-relay.sh" >"$log" 2>&1 &
runner=$!
pid=""
for _ in $(seq 600); do
    # The bench runs its own copy of the binary, in its work directory.
    pid="$(pgrep -f "postern serve --grace" | head -1 || true)"
    [ -n "$pid" ] && break
    sleep 0.05
done
[ -n "$pid" ] || { echo "relay-cpu-split: postern did not start" >&2; wait "$runner"; exit 1; }
stat=""
while s="$(cat "/proc/$pid/stat" 2>/dev/null)"; do
    stat="$s"
    sleep 0.2
done
wait "$runner" || { tail -20 "$log"; exit 1; }
hz="$(getconf CLK_TCK)"
rate="$(awk -F'|' '/^\| postern/ {gsub(/ /, "", $4); print $4}' "$log")"
# Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
echo "${stat##*) }" | awk -v hz="$hz" -v n="$messages" -v b="$(basename "$bin")" -v s="$size" -v r="$rate" \
    '{printf "%s %s B: user %.3f ms/msg, system %.3f ms/msg; %s msg/s\n", b, s, $12*1000/hz/n, $13*1000/hz/n, r}'
rm -f "$log"
