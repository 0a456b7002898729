#!/usr/bin/env bash
# Runs every program under examples/ and checks that each exits 0: the embedder's examples
# are self-contained (their own server on 127.0.0.1, temporary directories) and assert
# what they show, so a change that breaks one fails here. smtp_sink and send_mail take
# arguments: send_mail sends a message to a smtp_sink started for it.
#
# Each runs inside ../shared/tools/netns-run (loopback only) with a time limit.
# Usage: scripts/examples.sh [--release]   (--release: use the release build, as CI has it)
set -euo pipefail
cd "$(dirname "$0")/.."
netns="$(cd .. && pwd)/shared/tools/netns-run"

profile=debug
flags=()
if [[ "${1:-}" == "--release" ]]; then
    profile=release
    flags=(--release)
fi

# The self-contained examples, one feature each.
examples=(smtp_server send_pipelined mime_tour routing_table durable_queue tracking)

cargo build --quiet --examples "${flags[@]}"
target="$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
bin="$target/$profile/examples"

failed=0
run() {
    local name=$1
    shift
    local log
    log="$(mktemp)"
    if timeout 60 "$netns" "$@" >"$log" 2>&1; then
        echo "ok      $name"
    else
        echo "FAILED  $name (exit $?); its output:"
        sed 's/^/    /' "$log"
        failed=1
    fi
    rm -f "$log"
}

for name in "${examples[@]}"; do
    run "$name" "$bin/$name"
done

# send_mail against smtp_sink, in one namespace: a message to two recipients. The sink
# is told to take one message (`--count 1`), so it must then exit by itself. Any further
# arguments go to the sink (`--no-chunking`: send_mail then sends DATA, not BDAT).
sink_and_send() {
    local bin=$1 msg
    shift
    msg="$(mktemp)"
    printf 'Subject: examples.sh\r\n\r\nHello.\r\n' >"$msg"
    "$bin/smtp_sink" --listen 127.0.0.1:2525 --count 1 "$@" &
    local sink=$!
    # Wait for the listener (the sink prints to stderr once bound).
    for _ in $(seq 50); do
        (exec 3<>/dev/tcp/127.0.0.1/2525) 2>/dev/null && break
        sleep 0.1
    done
    local rc=0
    "$bin/send_mail" --server 127.0.0.1:2525 --from a@example.org \
        --to b@example.net --to c@example.net "$msg" || rc=$?
    for _ in $(seq 50); do
        kill -0 "$sink" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$sink" 2>/dev/null; then
        echo "smtp_sink --count 1 still running after its message"
        kill "$sink"
        rc=1
    fi
    wait "$sink" 2>/dev/null || true
    rm -f "$msg"
    return "$rc"
}
export -f sink_and_send
run "smtp_sink + send_mail" bash -c 'sink_and_send "$1"' _ "$bin"
run "smtp_sink --no-chunking + send_mail" bash -c 'sink_and_send "$1" --no-chunking' _ "$bin"

if [[ $failed -ne 0 ]]; then
    echo "some examples failed"
    exit 1
fi
echo "all examples passed"
