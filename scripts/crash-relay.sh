#!/usr/bin/env bash
# Crash safety under load (issue 9 point 2): builds the gateway, then runs
# scripts/crash-relay.py inside ../shared/tools/netns-run (loopback only).
# KILLS (default 100) and CLIENTS (default 4) tune it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="$(cd "$root/.." && pwd)/shared"
if [ -z "${POSTERN_CRASH_INSIDE:-}" ]; then
  (cd "$root" && cargo build --release --bin postern)
  exec env POSTERN_CRASH_INSIDE=1 "$shared/tools/netns-run" "$0" "$@"
fi
exec python3 "$root/scripts/crash-relay.py" "$root/target/release/postern" \
  --kills "${KILLS:-100}" --clients "${CLIENTS:-4}" "$@"
