#!/usr/bin/env bash
# A gateway whose DNS server never answers: `[dns] name_servers` points at a closed
# loopback port, 200 messages are relayed into it (every delivery defers with
# "451 4.4.3 … DNS lookup timed out" and is retried every second or two), and the
# gateway's CPU time and resident memory are printed every 20 s. A leak would show as
# RSS that keeps rising; RELIABILITY.md ("DNS that never answers") has a 30-minute run.
#
#   DUR=1800 scripts/dns-down.sh [BINARY]
#
# BINARY defaults to target/dist/postern (built if missing); DUR (seconds, default 120)
# is how long to watch after the messages are in. Runs itself inside
# ../shared/tools/netns-run (loopback only); needs Postfix's smtp-source
# (../shared/tools/install-peers.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$(realpath -m "${1:-$root/target/dist/postern}")"
if [ -z "${POSTERN_DNS_DOWN_INSIDE:-}" ]; then
    [ -x "$bin" ] || (cd "$root" && cargo build --profile dist --bin postern)
    exec env POSTERN_DNS_DOWN_INSIDE=1 "$root/../shared/tools/netns-run" "$0" "$bin"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat >"$work/postern.toml" <<EOF
[server]
hostname = "relay.test"
data_dir = "$work/data"

[connections]
listen = ["127.0.0.1:2735"]

[security]
relay_networks = ["127.0.0.1/32"]

[retry]
intervals = ["1s"]
backoff_first = "1s"
backoff_max = "2s"

[domain_defaults]
tls = "off"

[dns]
# Nothing listens here: every lookup times out.
name_servers = ["127.0.0.1:5399"]

[[connector]]
name = "internet"
  [[connector.address_space]]
  pattern = "*"
EOF
"$bin" serve -c "$work/postern.toml" >"$work/postern.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/2735) 2>/dev/null && break
    sleep 0.1
done
/usr/sbin/smtp-source -s 5 -m 200 -l 2000 -f a@x.test -t b@y.test 127.0.0.1:2735
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
t0="$(ticks)"
for t in $(seq 20 20 "${DUR:-120}"); do
    sleep 20
    echo "t=$t s: cpu ticks $(($(ticks) - t0)), rss $(awk '/^VmRSS/ {print $2}' "/proc/$pid/status") kB," \
        "deferrals logged $(grep -c 'deferred' "$work/postern.log" || true)"
done
kill "$pid"
wait "$pid" || true
