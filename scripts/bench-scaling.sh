#!/usr/bin/env bash
# Scaling curve (issue 18 item 5): relay throughput (smtp-source -s N) and p99 acceptance
# latency (scripts/bench-relay/client.py with N concurrent connections, timing MAIL .. the
# 250 after DATA) against N concurrent client sessions, for postern and the peers. Runs
# scripts/bench-relay.sh once per N (SESSIONS=N LAT_SESSIONS=N), collects its summary
# tables into a CSV and plots them (python3-matplotlib from apt, so /usr/bin/python3; installed if missing).
#
# Usage: scripts/bench-scaling.sh
# Environment (defaults in brackets):
#   CLIENTS ["1 10 100 500"]   session counts
#   MTAS ["postern postfix exim opensmtpd-sync"], MESSAGES [2000], LAT_MESSAGES [1000],
#   SIZE [1024], PEER_MESSAGES, PEER_LAT_MESSAGES  passed to bench-relay.sh (see there)
#   OUT [docs/scaling]          writes OUT.csv and OUT.png
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
/usr/bin/python3 -c "import matplotlib" 2>/dev/null || {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-matplotlib >/dev/null; }
out="${OUT:-$root/docs/scaling}"
logdir="$(mktemp -d /tmp/postern-bench-scaling-XXXXXX)"
build="${SKIP_BUILD:-0}"
for n in ${CLIENTS:-1 10 100 500}; do
  echo "+ SESSIONS=$n LAT_SESSIONS=$n scripts/bench-relay.sh > $logdir/$n.log"
  SKIP_BUILD="$build" SESSIONS="$n" LAT_SESSIONS="$n" SIZES="${SIZE:-1024}" \
    MTAS="${MTAS:-postern postfix exim opensmtpd-sync}" MESSAGES="${MESSAGES:-2000}" \
    LAT_MESSAGES="${LAT_MESSAGES:-1000}" "$root/scripts/bench-relay.sh" > "$logdir/$n.log" 2>&1 \
    || { echo "FAIL: $n sessions, see $logdir/$n.log" >&2; tail -5 "$logdir/$n.log" >&2; exit 1; }
  build=1
done
/usr/bin/python3 "$root/scripts/bench-relay/scaling_plot.py" "$logdir" "$out"
echo "logs in $logdir"
