#!/usr/bin/env bash
# `make fuzz`: runs each target for FUZZ_SECONDS (default 120) on the
# nightly toolchain, one after the other, starting from fuzz/seeds/ and
# growing fuzz/corpus/ (not committed). A crash stops the run; libFuzzer
# leaves the input in fuzz/artifacts/<target>/, and it belongs in
# fuzz/regressions/<target>/ once fixed (tests/fuzz_regressions.rs replays it).
# Each target's figures go to fuzz/last-run.tsv and are appended, with the
# date and the commit fuzzed, to fuzz/history.tsv; `make reliability` puts
# the last run and each target's total time in docs/reliability.md.
#
# No sanitizer: the fuzzed code is safe Rust, so AddressSanitizer would
# find nothing a panic does not, at a third of the speed; libFuzzer still
# catches panics, hangs (-timeout) and runaway memory (-rss_limit_mb).
# FUZZ_SANITIZER=address turns it back on.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-120}
sanitizer=${FUZZ_SANITIZER:-none}
targets=${FUZZ_TARGETS:-catalog_toml bundle fbc semver_range unpack}
results=fuzz/last-run.tsv
history=fuzz/history.tsv
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
today=$(date -u +%Y-%m-%d)
logs=fuzz/logs
mkdir -p "$logs"

command -v cargo-fuzz >/dev/null || { echo "fuzz: cargo-fuzz is missing: cargo install cargo-fuzz" >&2; exit 2; }
rustup run nightly rustc --version >/dev/null || { echo "fuzz: the nightly toolchain is missing: rustup toolchain install nightly" >&2; exit 2; }

# Built once, then each target's binary runs on its own (`cargo fuzz run`
# would check the build before each). FUZZ_PREBUILT=1 skips the build.
if [ -z "${FUZZ_PREBUILT:-}" ]; then
  cargo +nightly fuzz build --sanitizer "$sanitizer"
fi
bin_dir=fuzz/target/x86_64-unknown-linux-gnu/release

printf 'target\tseconds\texecutions\texecutions_per_second\tcoverage_edges\tfeatures\tcorpus_inputs\tpeak_rss_mb\tcrashes\n' > "$results.tmp"
for target in $targets; do
  mkdir -p "fuzz/corpus/$target"
  log="$logs/$target.log"
  status=0
  mkdir -p "fuzz/artifacts/$target"
  "$bin_dir/$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -artifact_prefix="fuzz/artifacts/$target/" \
    -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len=1048576 -print_final_stats=1 >"$log" 2>&1 || status=$?
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  per_second=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  peak=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  edges=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  features=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  inputs=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  crashes=0
  [ "$status" -eq 0 ] || crashes=1
  row=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$target" "$seconds" "${executions:-0}" "${per_second:-0}" "${edges:-0}" "${features:-0}" "${inputs:-0}" "${peak:-0}" "$crashes")
  echo "$row" >> "$results.tmp"
  [ -s "$history" ] || printf 'date\tcommit\t%s\n' "$(head -1 "$results.tmp")" > "$history"
  printf '%s\t%s\t%s\n' "$today" "$commit" "$row" >> "$history"
  if [ "$status" -ne 0 ]; then
    mv "$results.tmp" "$results"
    echo "fuzz: $target failed (exit $status); see $log and fuzz/artifacts/$target/" >&2
    exit 1
  fi
  echo "fuzz: $target: ${executions:-0} executions, ${per_second:-0}/s, cov ${edges:-0}, ft ${features:-0}"
done
mv "$results.tmp" "$results"
