#!/usr/bin/env bash
# Fuzzing campaign (issue 9 point 5): every cargo-fuzz target (or those named as
# arguments) for MINUTES minutes each (default 10) with AddressSanitizer, starting from
# fuzz/seeds/<target> plus the local corpus so far, then minimised with `cargo fuzz cmin`
# into fuzz/corpus/<target>. The corpus is not tracked in git (it is generated, and was 99%
# of the tree's files): a fresh clone grows it again from the hand-written seeds. Prints one line per target; exits non-zero if any target found a
# crash (the input is left in fuzz/artifacts/<target>/).
# Needs cargo-fuzz (`cargo install cargo-fuzz`); RUSTC_BOOTSTRAP=1 lets the stable
# toolchain take the sanitizer flags.
set -uo pipefail
cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1
minutes="${MINUTES:-10}"
targets=("$@")
[ ${#targets[@]} -eq 0 ] && mapfile -t targets < <(cargo fuzz list)
failed=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  [ -d "seeds/$t" ] && cp -n "seeds/$t"/* "corpus/$t/" 2>/dev/null
  log="$(mktemp)"
  cargo fuzz run "$t" "corpus/$t" -- -max_total_time=$((minutes * 60)) -print_final_stats=1 > "$log" 2>&1
  rc=$?
  runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -1)
  if [ $rc -ne 0 ]; then
    echo "FAIL $t: $(grep -m1 -E 'panicked|ERROR' "$log")  (see fuzz/artifacts/$t/)"
    failed=1
  else
    before=$(ls "corpus/$t" | wc -l)
    cargo fuzz cmin "$t" "corpus/$t" > /dev/null 2>&1
    echo "ok   $t: ${runs:-?} in ${minutes} min with ASan; corpus $before -> $(ls "corpus/$t" | wc -l) inputs after cmin"
  fi
  rm -f "$log"
done
exit $failed
