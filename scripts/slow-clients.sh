#!/usr/bin/env bash
# Slow and idle clients against `postern serve` (issue 9 point 4): 1,000 idle connections
# and 100 that send a byte a second while a normal client sends 20 messages, then the
# limits (max_connections, min_data_rate, command time-out) with their replies. Builds the
# release binary, raises the open-file limit, and runs scripts/slow-clients.py inside
# ../shared/tools/netns-run (loopback only). Exits non-zero on any failed assertion.
# Options are passed on to slow-clients.py (--idle N --drip N --messages N).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="$(cd "$root/.." && pwd)/shared"

if [ -z "${POSTERN_SLOW_INSIDE:-}" ]; then
  (cd "$root" && cargo build --release --bins)
  exec env POSTERN_SLOW_INSIDE=1 "$shared/tools/netns-run" "$0" "$@"
fi

# Both this client and the gateway (its child) hold one descriptor per connection.
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
echo "ulimit -n $(ulimit -n)"
cd "$root"
exec python3 "$root/scripts/slow-clients.py" --postern "$root/target/release/postern" "$@"
