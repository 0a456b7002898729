#!/bin/sh
# Runs the postern-queue benches and prints the headline figures.
# Spools are created under the target directory (same disk as the build) and removed.
set -eu
cd "$(dirname "$0")/.."
cargo bench --bench queue "$@" 2>&1 | tee target/bench-queue.log
echo
echo "== headline figures =="
grep -E '^(summary|memory|setup):|thrpt:' target/bench-queue.log || true
