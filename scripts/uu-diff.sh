#!/usr/bin/env bash
# Differential test: `postern uu` against GNU sharutils uuencode/uudecode on random files of
# many sizes, both formats, both directions. Every comparison must be byte-identical.
#
# Usage: scripts/uu-diff.sh [POSTERN_BINARY]   (default: builds and uses target/release/postern)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v uuencode >/dev/null && command -v uudecode >/dev/null || {
    echo "uu-diff: GNU sharutils (uuencode, uudecode) not installed" >&2; exit 2; }
if [[ $# -ge 1 ]]; then
    P=$(realpath "$1")
else
    cargo build --release --quiet --bin postern
    P=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/release/postern
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

sizes=(0 1 2 3 4 43 44 45 46 47 89 90 91 134 135 136 1000 4095 4096 65536 1048576)
for _ in $(seq 1 20); do sizes+=($((RANDOM * 7 % 200000))); done

fail=0; checks=0
check() { # description, file a, file b
    checks=$((checks + 1))
    if ! cmp -s "$2" "$3"; then echo "FAIL: $1"; fail=$((fail + 1)); fi
}
for n in "${sizes[@]}"; do
    head -c "$n" /dev/urandom > in.bin
    chmod 640 in.bin
    for m in "" "-m"; do
        tag="size $n ${m:-classic}"
        uuencode $m in.bin name.bin > gnu.uu
        "$P" uu encode $m in.bin name.bin > ours.uu
        check "$tag: encode bytes" gnu.uu ours.uu
        uuencode $m name.bin < in.bin > gnu-stdin.uu
        "$P" uu encode $m name.bin < in.bin > ours-stdin.uu
        check "$tag: encode from stdin" gnu-stdin.uu ours-stdin.uu
        "$P" uu encode $m - name.bin < in.bin > ours-dash.uu
        check "$tag: encode from -" gnu-stdin.uu ours-dash.uu
        "$P" uu decode gnu.uu -o ours.out
        check "$tag: postern decodes GNU" in.bin ours.out
        uudecode -o gnu.out ours.uu
        check "$tag: GNU decodes postern" in.bin gnu.out
        "$P" uu decode ours.uu && mv name.bin named.out
        check "$tag: decode to the begin-line name" in.bin named.out
        [[ $(stat -c %a named.out) == 640 ]] || { echo "FAIL: $tag: mode $(stat -c %a named.out)"; fail=$((fail + 1)); }
        sed 's/$/\r/' gnu.uu | "$P" uu decode -o - > crlf.out
        check "$tag: postern decodes CRLF from stdin" in.bin crlf.out
    done
done
echo "uu-diff: $checks comparisons over ${#sizes[@]} sizes, $fail failed"
[[ $fail -eq 0 ]]
