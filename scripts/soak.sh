#!/usr/bin/env bash
# Soak test (issue 14 point 3): SOAK_MINUTES (default 30) of continuous relay at a fixed
# offered rate through `postern serve` to a recording sink that goes away and comes back,
# with `postern reload` now and then and mail for a domain that never answers; samples
# RSS, fds, spool bytes, queue length and tracking-log bytes (scripts/soak.py says how).
# Runs itself inside ../shared/tools/netns-run (loopback only). Uses
# target/release/postern (built with `cargo build --release --bin postern` if missing;
# POSTERN=path overrides). Output in SOAK_OUT (default target/soak): soak.csv, soak.png,
# gateway.log. Tunables: SOAK_MINUTES, SOAK_RATE (msg/s, 50), SOAK_SAMPLE (s, 5),
# SOAK_SINK_CYCLE (s, 180), SOAK_SINK_DOWN (s, 45), SOAK_RELOAD_EVERY (s, 120).
# The last line: soak: N accepted, N delivered, 0 lost, rss max X MB (drift Y%), fds max Z, spool max W MB
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="$(cd "$root/.." && pwd)/shared"
postern="${POSTERN:-$root/target/release/postern}"
if [ -z "${POSTERN_SOAK_INSIDE:-}" ]; then
  if [ ! -x "$postern" ]; then
    (cd "$root" && cargo build --release --bin postern)
  fi
  if ! command -v gnuplot >/dev/null; then
    echo "soak: installing gnuplot for the plot" >&2
    apt-get install -y gnuplot-nox >/dev/null || echo "soak: no gnuplot; the plot is skipped" >&2
  fi
  exec env POSTERN_SOAK_INSIDE=1 "$shared/tools/netns-run" "$0" "$@"
fi
exec python3 "$root/scripts/soak.py" "$postern" \
  --minutes "${SOAK_MINUTES:-30}" --rate "${SOAK_RATE:-50}" --sample "${SOAK_SAMPLE:-5}" \
  --sink-cycle "${SOAK_SINK_CYCLE:-180}" --sink-down "${SOAK_SINK_DOWN:-45}" \
  --reload-every "${SOAK_RELOAD_EVERY:-120}" --out "${SOAK_OUT:-$root/target/soak}" "$@"
