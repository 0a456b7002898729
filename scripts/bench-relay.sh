#!/usr/bin/env bash
# Relay throughput: Postfix smtp-source -> MTA -> Postfix smtp-sink, for postern
# (`postern serve`, smart host to the sink) and for the peers configured as relays to the
# same sink: Postfix, Exim 4 and OpenSMTPD (the last two unpacked into target/peers by
# scripts/bench-relay/install-peers.sh; each prints its configuration), same messages,
# sizes and sessions. postern, Postfix and Exim fsync before the 250; OpenSMTPD does not
# (`opensmtpd`), `opensmtpd-sync` is it with a synchronous spool (chattr +S). Everything
# on loopback, inside ../shared/tools/netns-run. See BENCHMARKS.md, "Relay throughput".
# The last lines: `postern/PEER throughput ratio (SIZE B): X` for each peer, then
# `postern/best-peer throughput ratio (SIZE B): X` against the fastest peer per size.
#
# Usage: scripts/bench-relay.sh
# Environment (defaults in brackets):
#   MESSAGES [10000]         messages per throughput run (smtp-source -m)
#   SESSIONS [10]            parallel smtp-source sessions (-s)
#   SIZES ["1024 102400"]    message payload sizes in bytes (smtp-source -l), one run each
#   MTAS ["postern postfix exim opensmtpd opensmtpd-sync"] which relays to measure
#   LAT_MESSAGES [2000]      messages in the separate acceptance-latency run (0 skips it)
#   LAT_SESSIONS [10]        concurrent connections of the latency client
#   PEER_MESSAGES, PEER_LAT_MESSAGES [unset] messages per run for Exim and OpenSMTPD
#                            instead (at least 2 a session): they relay tens a second
#   SOURCE_OPTS [""]         extra smtp-source options (e.g. "-d": many messages a session)
#   RUN_DEADLINE [600]       seconds one run may take before it is abandoned (a failure)
#   PF_DEST_CONCURRENCY [""] if set, Postfix's default_destination_concurrency_limit
#   PN_DEST_CONCURRENCY [20] postern's max_connections_per_destination (Postfix default 20)
#   PN_CHARSET [""]          diagnostic: postern's [domain_defaults] charset (its default
#                            is iso-8859-1, which re-encodes every outgoing text part)
#   PN_LIMITS [""]           extra lines for postern's [limits] (e.g. "body_cache_bytes = 0")
#   PN_SPOOL [""]            extra lines for postern's [spool] (e.g. "commit_thread = false")
#   PN_SERVER [""]           extra lines for postern's [server] (e.g. "worker_threads = 1")
#   PERF [0]                 1: perf record -a (cpu-clock) during each throughput run and
#                            print the CPU split by command and the MTA's top functions
#   SYSCALLS [0]             1: count system calls (perf stat, machine-wide) during each
#                            throughput run and print them per message
#   POSTERN_BIN [target/dist/postern] the postern binary to run (an A/B of two builds);
#                            by default built with `cargo build --profile dist`, the build
#                            to deploy (Cargo.toml says why it is not `--release`)
#   SKIP_BUILD [0]           1: do not run cargo build
#   SINK_BIN [""]            the sink in place of Postfix's smtp-sink: postern's smtp_sink
#                            example (target/release/examples/smtp_sink), which costs a
#                            fraction of smtp-sink's CPU at 100 KB; empty: smtp-sink
#   SINK_ARGS [""]           extra arguments for SINK_BIN ("--no-chunking": it offers no
#                            CHUNKING, so postern sends DATA to it as Postfix does)
#   KEEP [0]                 1: keep the work directory (logs, spools, configs)
# Quick smoke run: MESSAGES=2000 LAT_MESSAGES=500 SIZES=1024 scripts/bench-relay.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="$(cd "$root/.." && pwd)/shared"

if [ -z "${POSTERN_BENCH_RELAY_INSIDE:-}" ]; then
  "$shared/tools/install-peers.sh"
  [ -x /usr/sbin/postfix ] || { echo "FAIL: /usr/sbin/postfix missing after install-peers" >&2; exit 1; }
  "$root/scripts/bench-relay/install-peers.sh" "${PEERS_PREFIX:-$root/target/peers}"
  if [ "${SKIP_BUILD:-0}" != 1 ]; then
    echo "+ cargo build --profile dist --bin postern"
    (cd "$root" && cargo build --profile dist --bin postern)
  fi
  echo "+ $shared/tools/netns-run $0 $*"
  exec env POSTERN_BENCH_RELAY_INSIDE=1 "$shared/tools/netns-run" "$0" "$@"
fi

cd "$root"
exec python3 "$root/scripts/bench-relay/bench.py" "$@"
