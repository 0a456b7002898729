#!/usr/bin/env bash
# Proof by simulation of the PostgreSQL cluster (issue 15 item 6): one PostgreSQL
# (scripts/pg-dev.sh), three release-built gateways on 127.0.0.1 (ports 2625/2635/2645,
# own data dirs, nodes node1..node3, [storage] lease_secs = LEASE_SECS), a recording sink,
# a pool of SMTP clients spread over the nodes; node2 is SIGKILLed mid-load and left dead.
# Everything runs inside ../shared/tools/netns-run (loopback only); the script enters it
# itself, so the one command is
#
#   scripts/cluster-sim.sh
#
# It ends with one line
#   cluster: nodes 3, killed 1, acknowledged N, delivered N, lost 0, duplicates D
# and exits non-zero if an acknowledged message was lost.
# Environment (defaults in brackets): MESSAGES [3000], CLIENTS [12], SIZE [1024] bytes,
# KILL_AT [0.4] (share acknowledged before the kill), LEASE_SECS [10], PG_PORT [54339],
# SINK_DELAY_MS [50] (the sink holds each 250 back, so node2 dies holding leases),
# DRAIN_DEADLINE [300] s, SKIP_BUILD [0], KEEP [0] (keep the work directory).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="$(cd "$root/.." && pwd)/shared"

if [ -z "${POSTERN_CLUSTER_SIM_INSIDE:-}" ]; then
  if [ "${SKIP_BUILD:-0}" != 1 ]; then
    echo "+ cargo build --release --bin postern"
    (cd "$root" && cargo build --release --bin postern)
  fi
  echo "+ $shared/tools/netns-run $0 $*"
  exec env POSTERN_CLUSTER_SIM_INSIDE=1 "$shared/tools/netns-run" "$0" "$@"
fi

cd "$root"
exec python3 "$root/scripts/cluster-sim/sim.py" "$@"
