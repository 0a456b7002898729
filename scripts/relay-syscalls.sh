#!/usr/bin/env bash
# System calls and context switches a relayed message, for every thread of the gateway:
# one run of scripts/relay-cpu-split.sh (postern alone, smtp-source to smtp-sink), counted
# with `perf stat` on the kernel's system-call tracepoints. Unlike `strace -c`, which stops
# the process at every call and so changes the batching it measures, the counts come at
# full speed. Needs `perf` and root (tracepoints).
#
#   scripts/relay-syscalls.sh BINARY [SIZE (1024)] [MESSAGES (10000)]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$1"
size="${2:-1024}"
messages="${3:-10000}"
calls="fdatasync writev write sendto recvfrom futex epoll_wait epoll_ctl accept4 close"
events=""
for c in $calls; do events="$events,syscalls:sys_enter_$c"; done
events="${events#,},context-switches"
# A gateway of an earlier run still exiting would be counted instead.
for _ in $(seq 200); do
    pgrep -f "postern serve --gr[a]ce" >/dev/null || break
    sleep 0.05
done
out="$(mktemp)"
split="$(mktemp)"
"$root/scripts/relay-cpu-split.sh" "$bin" "$size" "$messages" >"$split" 2>&1 &
runner=$!
pid=""
for _ in $(seq 600); do
    pid="$(pgrep -n -f "postern serve --gr[a]ce" || true)"
    [ -n "$pid" ] && break
    sleep 0.05
done
[ -n "$pid" ] || { echo "relay-syscalls: postern did not start" >&2; wait "$runner"; exit 1; }
# Counting stops when the gateway exits, at the end of the run.
perf stat -x, -e "$events" -p "$pid" -o "$out" 2>/dev/null &
counter=$!
wait "$runner"
wait "$counter" || true
cat "$split"
awk -F, -v n="$messages" '/^[0-9]/ {
    name = $3; sub(/^syscalls:sys_enter_/, "", name)
    printf "%s %.2f a message\n", name, $1 / n
}' "$out"
rm -f "$out" "$split"
