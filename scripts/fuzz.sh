#!/usr/bin/env bash
# Build the fuzz targets (fuzz/, a crate of its own) and run each for a time budget.
#
#   scripts/fuzz.sh build                  build all targets
#   scripts/fuzz.sh run SECONDS [TARGET…]  run targets one after another (default: all), each
#                                          SECONDS long, under nice -n 19; prints per target
#                                          executions, time and findings (crash files)
#                                          (FUZZ_NO_BUILD=1: run what was built last)
#
# libFuzzer through libfuzzer-sys, instrumented as `cargo fuzz build -s none` does (SanitizerCoverage
# inline 8-bit counters, PC table, compare tracing; debug assertions and overflow checks on), but
# with plain cargo on the stable toolchain: this machine has one stable toolchain and cannot
# fetch nightly, and no sanitizer needs nightly here because the code is `unsafe`-free Rust.
# Corpora live in fuzz/corpus/<target> (kept between runs, seeded from the repo's fixtures);
# crashes land in fuzz/artifacts/<target>/. Every finding becomes a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS=(audio_decode keystroke policy_files json_bodies merkle_proofs checkpoints)
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares -Cllvm-args=-sanitizer-coverage-stack-depth"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$PWD/fuzz/target}"
# An explicit --target keeps the instrumentation flags off build scripts and proc macros (as
# cargo fuzz does): they run on the host without libFuzzer.
HOST="$(rustc -vV | sed -n 's/^host: //p')"
OUT="$CARGO_TARGET_DIR/$HOST/release"

build() {
  (cd fuzz && nice -n 19 cargo build --release --locked --bins --target "$HOST")
}

seed() {
  local t=$1 dir=fuzz/corpus/$1
  mkdir -p "$dir" "fuzz/artifacts/$t"
  [ -n "$(ls -A "$dir" 2>/dev/null)" ] && return 0
  case $t in
    audio_decode)
      for f in $(find tests -name '*.wav' | head -8); do
        { printf '\x00'; head -c 65536 "$f"; } > "$dir/$(basename "$f")"; done ;;
    policy_files)
      for f in policies/sectors/*.toml policies/consent/*.toml; do cp "$f" "$dir/"; done ;;
    keystroke)
      echo '[[{"press_ms":0,"release_ms":80,"class":"left_home"},{"press_ms":120,"release_ms":190,"class":"right_home"}]]' > "$dir/two" ;;
    json_bodies)
      printf '\x00{"customer_ref":"c1","channel":"voice","evidence":{"keystroke_free":{"segments":[]}}}' > "$dir/start"
      printf '\x04{"customer_ref":"c1","purpose":"camera","notice_version":"1","capture":{"method":"customer_device"}}' > "$dir/grant" ;;
    merkle_proofs)
      head -c 200 /dev/urandom > "$dir/random" ;;
    checkpoints)
      printf 'example.com/log\n7\n%s\n\n\xe2\x80\x94 example.com/log %s\n' \
        "$(head -c 32 /dev/zero | base64)" "$(head -c 68 /dev/zero | base64 -w0)" > "$dir/checkpoint"
      head -c 64 /dev/urandom > "$dir/random" ;;
  esac
}

run() {
  local secs=$1; shift
  local targets=("$@"); [ ${#targets[@]} -eq 0 ] && targets=("${TARGETS[@]}")
  [ -n "${FUZZ_NO_BUILD:-}" ] || build
  printf '%-14s %12s %8s %9s\n' target executions seconds findings
  for t in "${targets[@]}"; do
    seed "$t"
    local log="fuzz/artifacts/$t/last-run.log"
    set +e
    nice -n 19 "$OUT/$t" "fuzz/corpus/$t" -max_total_time="$secs" \
      -max_len=65536 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="fuzz/artifacts/$t/" > "$log" 2>&1
    local rc=$?
    set -e
    local execs; execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')
    local took; took=$(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "$log" | grep -oE 'in [0-9]+' | grep -oE '[0-9]+' || echo "$secs")
    local found; found=$(find "fuzz/artifacts/$t" -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' | wc -l)
    printf '%-14s %12s %8s %9s\n' "$t" "$execs" "$took" "$found"
    [ $rc -eq 0 ] || { echo "$t: libFuzzer exited $rc, see $log" >&2; tail -30 "$log" >&2; return 1; }
  done
}

case "${1:-}" in
  build) build ;;
  run) shift; run "${1:?seconds}" "${@:2}" ;;
  *) sed -n '2,8p' "$0"; exit 2 ;;
esac
