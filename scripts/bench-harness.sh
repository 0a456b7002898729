#!/usr/bin/env bash
# The relay bench's harness alone: Postfix smtp-source straight into smtp-sink, no MTA
# between them, on loopback inside ../shared/tools/netns-run. What this rate is to a
# relay's: BENCHMARKS.md, "Relay, eleventh round".
#
#   scripts/bench-harness.sh [SIZE (1024)] [MESSAGES (20000)] [SESSIONS (10)]
#
# Prints "harness SIZE B: N msg/s" (smtp-source's start to smtp-sink's exit, which
# `-M` makes it do once it has every message).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="$(cd "$root/.." && pwd)/shared"
if [ -z "${POSTERN_BENCH_HARNESS_INSIDE:-}" ]; then
    "$shared/tools/install-peers.sh" >/dev/null
    exec env POSTERN_BENCH_HARNESS_INSIDE=1 "$shared/tools/netns-run" "$0" "$@"
fi
size="${1:-1024}"
messages="${2:-20000}"
sessions="${3:-10}"
port=2626
/usr/sbin/smtp-sink -u nobody -h sink.bench.test -M "$messages" "127.0.0.1:$port" 1024 &
sink=$!
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.05
done
start=$(date +%s.%N)
# smtp-source's last QUIT finds the sink gone (-M): its exit status says nothing.
/usr/sbin/smtp-source -s "$sessions" -m "$messages" -l "$size" \
    -f sender@source.bench.test -t rcpt@sink.bench.test "127.0.0.1:$port" 2>/dev/null || true
wait "$sink"
end=$(date +%s.%N)
awk -v n="$messages" -v s="$start" -v e="$end" -v size="$size" \
    'BEGIN { printf "harness %s B: %.0f msg/s\n", size, n / (e - s) }'
