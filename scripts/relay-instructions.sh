#!/usr/bin/env bash
# User-space instructions postern executes per relayed message: scripts/bench-relay.sh with
# postern alone, run under valgrind's callgrind. The wall-clock figures of a relay run on
# this kind of machine drift by 10-20% from run to run; an instruction count does not, so
# this is how a change to the per-message path is compared (`callgrind_annotate FILE`
# shows where the instructions go). Kernel work (sends, receives, fsync) is not counted,
# and valgrind counts a `rep movs`/`rep stos` copy octet by octet, which overstates
# memcpy and memset against their real cost.
#
#   scripts/relay-instructions.sh [BINARY] [SIZE] [MESSAGES]
#
# BINARY defaults to target/dist/postern (built if missing), SIZE to 1024 octets,
# MESSAGES to 2000. Prints "Ir/msg" and the callgrind output file (kept).
# Example: scripts/relay-instructions.sh target/dist/postern 102400 300
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$(realpath -m "${1:-$root/target/dist/postern}")"
size="${2:-1024}"
messages="${3:-2000}"
command -v valgrind >/dev/null || { echo "relay-instructions: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
[ -x "$bin" ] || (cd "$root" && cargo build --profile dist --bin postern)
out="$(mktemp -d)/callgrind.out"
wrap="$(dirname "$out")/postern-under-callgrind"
cat >"$wrap" <<EOF
#!/bin/sh
exec valgrind --tool=callgrind --callgrind-out-file=$out "$bin" "\$@"
EOF
chmod +x "$wrap"
log="$(dirname "$out")/bench.log"
POSTERN_BIN="$wrap" SKIP_BUILD=1 MESSAGES="$messages" LAT_MESSAGES=0 SIZES="$size" MTAS=postern \
    "$root/scripts/bench-relay.sh" >"$log" 2>&1 || { tail -20 "$log"; exit 1; }
total="$(awk '/^(summary|totals):/ {print $2; exit}' "$out")"
echo "postern $(basename "$bin"), $size B: $((total / messages)) Ir/msg ($total over $messages messages, start-up included); $out"
