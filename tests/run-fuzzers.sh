#!/bin/sh
# tests/run-fuzzers.sh SECONDS: runs every build-fuzz/fuzz_* for SECONDS on
# its seed corpus (tests/fuzz/corpus/NAME, NAME = the binary without fuzz_).
# New inputs go to a scratch directory, never into the repository; a crash
# leaves its input in build-fuzz/crashes/ (add it to the corpus once fixed).
# Prints "fuzz: N passed, N failed".
set -u
secs=${1:-60}
src=$(cd "$(dirname "$0")/.." && pwd)
passed=0
failed=0
mkdir -p "$src/build-fuzz/crashes"
for bin in "$src"/build-fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin" | sed 's/^fuzz_//')
  scratch=$(mktemp -d /tmp/hull-fuzz.XXXXXX)
  echo "== fuzz: $name for ${secs}s"
  # The seed corpus: tests/fuzz/corpus/NAME, or FOLDER/fuzz/corpus/NAME for
  # a module that keeps its fuzzer with it (vm-shim/fuzz).
  corpus=""
  for c in "$src/tests/fuzz/corpus/$name" "$src"/*/fuzz/corpus/"$name"; do
    if [ -d "$c" ]; then corpus=$c; break; fi
  done
  if [ -z "$corpus" ]; then
    echo "!! fuzz: $name has no seed corpus (tests/fuzz/corpus/$name): counted as a failure"
    failed=$((failed + 1))
    rm -rf "$scratch"
    continue
  fi
  if "$bin" -max_total_time="$secs" -print_final_stats=0 -artifact_prefix="$src/build-fuzz/crashes/" \
      "$scratch" "$corpus" >"$scratch.log" 2>&1; then
    tail -n 2 "$scratch.log"
    passed=$((passed + 1))
  else
    tail -n 40 "$scratch.log"
    echo "!! fuzz: $name failed (input saved under build-fuzz/crashes/)"
    failed=$((failed + 1))
  fi
  rm -rf "$scratch" "$scratch.log"
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
