#!/usr/bin/env bash
# Interop of the gateway (`postern serve`) with real peers, run by scripts/interop.sh inside
# ../shared/tools/netns-run (loopback only): dnsmasq serves the MX records; swaks (plain,
# STARTTLS, AUTH), Python smtplib and Postfix smtp-source send into the gateway; the gateway
# delivers into Maildir, to Postfix smtp-sink (found by MX) and to Python aiosmtpd (smart
# host). Each check is an assertion; the script exits non-zero on the first failure.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
postern="$root/target/release/postern"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  [ -f "$work/gw.err" ] && { echo "--- gateway stderr:" >&2; tail -20 "$work/gw.err" >&2; }
  exit 1
}
pass() { echo "ok   $*"; }

wait_port() {
  for _ in $(seq 1 100); do
    python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "nothing listening on port $1"
}

# Waits (up to ~60 s) until the command in "$2…" prints a number >= $1.
wait_at_least() {
  local want=$1; shift
  for _ in $(seq 1 600); do
    [ "$("$@" 2>/dev/null || echo 0)" -ge "$want" ] && return 0
    sleep 0.1
  done
  return 1
}
maildir_count() { find "$work/data/mail/$1" -path '*/new/*' -type f 2>/dev/null | wc -l; }
sent_count() { "$postern" track search --dir "$work/data/tracking" --event sent --recipient "$1" --json --no-index | wc -l; }

gw_port=25261; mx_port=25262; aio_port=25263; dns_port=25353
# aiosmtpd with STARTTLS: a certificate from the test CA the gateway trusts, and one from
# nobody it trusts (for domains with tls = "verify").
aio_ca_port=25264; aio_self_port=25265
fixtures="$root/crates/postern-gateway/tests/fixtures"

# --- DNS: dnsmasq on loopback with the MX records ------------------------------------------
/usr/sbin/dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-daemon \
  --listen-address=127.0.0.1 --bind-interfaces --port=$dns_port \
  --mx-host=relay.test,mx.relay.test,10 --host-record=mx.relay.test,127.0.0.1 \
  > "$work/dnsmasq.log" 2>&1 &
pids+=($!)
sleep 0.5
dig +short -p $dns_port @127.0.0.1 MX relay.test | grep -q 'mx.relay.test' || fail "dnsmasq does not serve the MX"

# --- the peers the gateway delivers to -------------------------------------------------------
/usr/sbin/smtp-sink -u nobody "127.0.0.1:$mx_port" 100 > "$work/pfsink.log" 2>&1 &
pids+=($!)
python3 "$root/scripts/interop/aiosmtpd_server.py" $aio_port "$work/aio" > "$work/aio.log" 2>&1 &
pids+=($!)
python3 "$root/scripts/interop/aiosmtpd_server.py" $aio_ca_port "$work/aio-ca" \
  "$fixtures/mx.crt" "$fixtures/mx.key" > "$work/aio-ca.log" 2>&1 &
pids+=($!)
python3 "$root/scripts/interop/aiosmtpd_server.py" $aio_self_port "$work/aio-self" \
  "$fixtures/localhost.crt" "$fixtures/localhost.key" > "$work/aio-self.log" 2>&1 &
pids+=($!)
wait_port $mx_port
wait_port $aio_port
wait_port $aio_ca_port
wait_port $aio_self_port

# --- the gateway ----------------------------------------------------------------------------
hash=$(echo 'interop-secret' | "$postern" config hash-password) || fail "config hash-password"
cat > "$work/postern.toml" <<TOML
[server]
hostname = "gw.test"
data_dir = "$work/data"
[connections]
listen = ["127.0.0.1:$gw_port"]
[administrator]
mailbox = "postmaster@localhost"
[security]
tls_cert = "$root/crates/postern-gateway/tests/fixtures/localhost.crt"
tls_key = "$root/crates/postern-gateway/tests/fixtures/localhost.key"
trusted_roots = "$fixtures/test-ca.crt"
[[security.user]]
name = "jo"
password_hash = "$hash"
[retry]
intervals = ["1s"]
[dns]
name_servers = ["127.0.0.1:$dns_port"]
port = $mx_port
[[connector]]
name = "local"
kind = "maildir"
  [[connector.address_space]]
  pattern = "localhost"
[[connector]]
name = "internet"
  [[connector.address_space]]
  pattern = "relay.test"
[[connector]]
name = "aio"
smart_hosts = ["127.0.0.1:$aio_port"]
  [[connector.address_space]]
  pattern = "aio.test"
[[connector]]
name = "aio-ca"
smart_hosts = ["127.0.0.1:$aio_ca_port"]
  [[connector.address_space]]
  pattern = "verified.test"
[[connector]]
name = "aio-self"
smart_hosts = ["127.0.0.1:$aio_self_port"]
  [[connector.address_space]]
  pattern = "unverified.test"
[[domain]]
pattern = "verified.test"
tls = "verify"
[[domain]]
pattern = "unverified.test"
tls = "verify"
TOML
"$postern" config check -c "$work/postern.toml" > "$work/check.log" 2>&1 || fail "config check: $(tail -3 "$work/check.log")"
"$postern" serve -c "$work/postern.toml" > "$work/gw.out" 2> "$work/gw.err" &
gw=$!
pids+=($gw)
wait_port $gw_port
grep -q "listening on 127.0.0.1:$gw_port" "$work/gw.err" || fail "no start-up line"
pass "postern serve: $(head -1 "$work/gw.err")"

# swaks, plain, to a local mailbox.
swaks --server "127.0.0.1:$gw_port" --from s@example.com --to jo@localhost \
  --header "Subject: plain" > "$work/swaks1.log" 2>&1 || fail "swaks plain: $(tail -5 "$work/swaks1.log")"
wait_at_least 1 maildir_count localhost/jo || fail "swaks message not in Maildir"
pass "swaks -> gateway -> Maildir"

# swaks without AUTH may not relay.
if swaks --server "127.0.0.1:$gw_port" --from s@example.com --to x@relay.test > "$work/swaks2.log" 2>&1; then
  fail "unauthenticated relay accepted"
fi
grep -q '<\*\* *5[0-9][0-9] 5.7.1' "$work/swaks2.log" || fail "relay refusal: $(grep '<' "$work/swaks2.log" | tail -3)"
pass "swaks without AUTH: relay refused with 5.7.1"

# swaks with STARTTLS and AUTH PLAIN relays; the gateway finds smtp-sink by MX.
swaks --server "127.0.0.1:$gw_port" -tls -a PLAIN -au jo -ap interop-secret \
  --from jo@localhost --to x@relay.test > "$work/swaks3.log" 2>&1 || fail "swaks tls+auth: $(tail -5 "$work/swaks3.log")"
grep -q 'TLS started' "$work/swaks3.log" || fail "swaks did not start TLS"
grep -q '235 2.7.0' "$work/swaks3.log" || fail "AUTH not accepted"
wait_at_least 1 sent_count x@relay.test || fail "no 'sent' event for x@relay.test (smtp-sink via MX)"
pass "swaks STARTTLS + AUTH PLAIN -> gateway -> MX (dnsmasq) -> postfix smtp-sink"

# swaks AUTH with a wrong password.
if swaks --server "127.0.0.1:$gw_port" -tls -a PLAIN -au jo -ap wrong --to x@relay.test > "$work/swaks4.log" 2>&1; then
  fail "wrong password accepted"
fi
grep -q '535 5.7.8' "$work/swaks4.log" || fail "wrong password: $(grep '<' "$work/swaks4.log" | tail -2)"
pass "swaks wrong password: 535 5.7.8"

# Python smtplib: STARTTLS, login, a message with a leading dot, to aiosmtpd by smart host.
python3 - "$gw_port" <<'PY' || fail "smtplib into the gateway"
import smtplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30) as s:
    s.ehlo("smtplib.test")
    s.starttls(context=ctx)
    s.ehlo("smtplib.test")
    s.login("jo", "interop-secret")
    body = "From: jo@localhost\r\nTo: y@aio.test\r\nSubject: smtplib\r\n\r\n.dot line\r\nend\r\n"
    refused = s.sendmail("jo@localhost", ["y@aio.test"], body)
    assert not refused, refused
PY
for _ in $(seq 1 300); do [ -s "$work/aio/1.eml" ] && break; sleep 0.1; done
[ -s "$work/aio/1.eml" ] || fail "aiosmtpd got nothing"
grep -q '^\.dot line' "$work/aio/1.eml" || fail "aiosmtpd content: $(head -20 "$work/aio/1.eml")"
grep -q '^Received: from smtplib.test' "$work/aio/1.eml" || fail "no Received header: $(head -5 "$work/aio/1.eml")"
pass "smtplib STARTTLS + login -> gateway -> smart host -> python aiosmtpd (content intact, Received added)"

# A recipient aiosmtpd refuses: the gateway's failure notice comes back to the sender's
# Maildir, and Python's email package reads it as a correct RFC 3464 report.
python3 - "$gw_port" <<'PY' || fail "smtplib for the failure notice"
import smtplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30) as s:
    s.starttls(context=ctx)
    s.login("jo", "interop-secret")
    body = "From: jo@localhost\r\nTo: reject-me@aio.test\r\nSubject: will bounce\r\nMessage-ID: <bounce-1@localhost>\r\n\r\nhello\r\n"
    s.sendmail("jo@localhost", ["reject-me@aio.test"], body, mail_options=["ENVID=interop-env"], rcpt_options=["NOTIFY=FAILURE"])
PY
for _ in $(seq 1 300); do
  n=$(find "$work/data/mail/localhost/jo/new" -type f -newer "$work/swaks1.log" 2>/dev/null | xargs -r grep -l 'multipart/report' | head -1)
  [ -n "$n" ] && break
  sleep 0.1
done
[ -n "$n" ] || fail "no failure notice in jo's Maildir"
python3 - "$n" <<'PY' || fail "Python email does not read the notice as a delivery report"
import email, sys
from email import policy
msg = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=policy.compat32)
assert msg.get_content_type() == "multipart/report", msg.get_content_type()
assert msg.get_param("report-type") == "delivery-status", msg.get_param("report-type")
parts = msg.get_payload()
assert [p.get_content_type() for p in parts] == ["text/plain", "message/delivery-status", "text/rfc822-headers"], [p.get_content_type() for p in parts]
blocks = parts[1].get_payload()
per_message, per_rcpt = blocks[0], blocks[1]
assert per_message["Reporting-MTA"] == "dns; gw.test", per_message["Reporting-MTA"]
assert per_message["Original-Envelope-Id"] == "interop-env", per_message["Original-Envelope-Id"]
assert per_rcpt["Final-Recipient"] == "rfc822; reject-me@aio.test", per_rcpt["Final-Recipient"]
assert per_rcpt["Action"] == "failed", per_rcpt["Action"]
assert per_rcpt["Status"] == "5.1.1", per_rcpt["Status"]
assert "550 5.1.1 No such user here" in per_rcpt["Diagnostic-Code"], per_rcpt["Diagnostic-Code"]
assert msg["Auto-Submitted"] == "auto-replied"
assert "Subject: will bounce" in parts[2].get_payload()
print("notice ok:", per_rcpt["Action"], per_rcpt["Status"])
PY
pass "aiosmtpd refuses a recipient -> failure notice; Python email reads a correct multipart/report"

# tls = "verify" against Python's ssl: aiosmtpd with a certificate from the trusted test
# CA gets the message over STARTTLS; aiosmtpd with an untrusted self-signed certificate
# gets nothing, and the gateway defers with 4.7.5 instead of sending in the clear.
for rcpt in jo@verified.test jo@unverified.test; do
  swaks --server "127.0.0.1:$gw_port" -tls -a PLAIN -au jo -ap interop-secret \
    --from jo@localhost --to "$rcpt" --header "Subject: verify $rcpt" > "$work/swaks-$rcpt.log" 2>&1 \
    || fail "swaks to $rcpt: $(tail -5 "$work/swaks-$rcpt.log")"
done
wait_at_least 1 sent_count jo@verified.test || fail "no 'sent' event for jo@verified.test: $(tail -3 "$work/aio-ca.log")"
grep -q 'Subject: verify jo@verified.test' "$work/aio-ca/1.eml" || fail "aiosmtpd (test CA) content"
"$postern" track search --dir "$work/data/tracking" --event sent --recipient jo@verified.test --json --no-index \
  | grep -q 'TLS' || fail "the verified send is not tracked as TLS"
deferred_count() {
  "$postern" track search --dir "$work/data/tracking" --event deferred --recipient jo@unverified.test --json --no-index \
    | grep -c '4\.7\.5' || true
}
wait_at_least 1 deferred_count || fail "jo@unverified.test not deferred with 4.7.5"
[ ! -e "$work/aio-self/1.eml" ] || fail "sent to a server whose certificate no trusted root issued"
"$postern" queue delete --spool "$work/data/spool" "$("$postern" queue list --spool "$work/data/spool" --json \
  | python3 -c 'import json,sys; print([m["id"] for m in json.load(sys.stdin)["messages"] if "unverified" in json.dumps(m)][0])')" \
  > /dev/null || fail "could not delete the deferred message"
pass "tls = verify: STARTTLS to aiosmtpd with a test-CA certificate delivered; untrusted certificate deferred (4.7.5), nothing sent"

# Postfix smtp-source into the gateway, local delivery: 1000 messages over 10 sessions,
# then 500 messages, 3 recipients each, several per connection.
/usr/sbin/smtp-source -s 10 -m 1000 -f load@example.com -t load@localhost \
  "127.0.0.1:$gw_port" > "$work/src1.log" 2>&1 || fail "smtp-source: $(tail -3 "$work/src1.log")"
grep -qiE 'warning|error|fatal' "$work/src1.log" && fail "smtp-source reported: $(head -3 "$work/src1.log")"
wait_at_least 1000 maildir_count localhost/load || fail "Maildir has $(maildir_count localhost/load) of 1000"
/usr/sbin/smtp-source -d -s 5 -m 500 -r 3 -f load2@example.com -t many@localhost \
  "127.0.0.1:$gw_port" > "$work/src2.log" 2>&1 || fail "smtp-source -d: $(tail -3 "$work/src2.log")"
grep -qiE 'warning|error|fatal' "$work/src2.log" && fail "smtp-source -d reported: $(head -3 "$work/src2.log")"
pass "smtp-source -s 10 -m 1000 and -d -s 5 -m 500 -r 3 -> gateway -> Maildir: 0 errors, 1000 delivered"

# Nothing left behind, and a clean stop on SIGTERM.
for _ in $(seq 1 300); do
  [ "$("$postern" queue list --spool "$work/data/spool" --json | grep -c '"id"' || true)" -eq 0 ] && break
  sleep 0.1
done
[ "$("$postern" queue list --spool "$work/data/spool" --json | grep -c '"id"' || true)" -eq 0 ] \
  || fail "queue not empty: $("$postern" queue list --spool "$work/data/spool" | head -5)"
kill -TERM $gw
for _ in $(seq 1 100); do kill -0 $gw 2>/dev/null || break; sleep 0.1; done
kill -0 $gw 2>/dev/null && fail "gateway still running 10 s after SIGTERM"
wait $gw || fail "gateway exited non-zero after SIGTERM"
pass "queue empty; SIGTERM -> clean stop"
echo "interop-gateway: all checks passed"
