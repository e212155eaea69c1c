#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers of client input (Fuzz/Sources/FuzzTargets.swift) with libFuzzer
# and AddressSanitizer: each target runs for FUZZ_SECONDS from the seed corpus in Fuzz/corpus/TARGET (the
# inputs it finds stay in a scratch directory: the repo's corpus is kept small). A crash, a sanitizer
# report or a broken round trip stops the run; the input is kept in Fuzz/crashes/ to become a test.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-"jws json form dpop assertion jwk wire forwarded"}
scratch=.build-fuzz
# lld: gold fails on the sanitizer's debug information.
swift build --scratch-path "$scratch" --product TokenServiceFuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING \
  -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld 2>&1 | grep -Ev 'warning: (Cannot export|.*unhandled)' | tail -3
bin="$scratch/debug/TokenServiceFuzz"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for t in $targets; do
  mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
  cp Fuzz/corpus/"$t"/* "$work/$t/corpus/"
  if FUZZ_TARGET=$t ASAN_OPTIONS=detect_leaks=0 "$bin" "$work/$t/corpus" -max_total_time="$seconds" -max_len=16384 -timeout=10 \
       -rss_limit_mb=3072 -print_final_stats=1 -artifact_prefix="$work/$t/artifacts/" >"$work/$t/log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$t/log" | grep -o '[0-9]*$' || echo "?")
    echo "fuzz $t: ok, $runs inputs in ${seconds}s"
  else
    status=1
    mkdir -p Fuzz/crashes
    cp "$work/$t/artifacts/"* Fuzz/crashes/ 2>/dev/null || true
    echo "fuzz $t: FAILED — the input is in Fuzz/crashes/; the report:"
    grep -E 'ERROR|Fatal error|==[0-9]+==|SUMMARY|#[0-9]+ 0x' "$work/$t/log" | head -30
  fi
done
exit $status
