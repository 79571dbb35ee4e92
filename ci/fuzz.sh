#!/usr/bin/env bash
# Build the cargo-fuzz targets in fuzz/ and run each for a bounded time, a few at once;
# fail on any crash, panic or hang. Needs the nightly toolchain and cargo-fuzz
# (.ci/run installs both). docs/fuzzing.md says more.
#
#   bash ci/fuzz.sh                   every target, FUZZ_SECONDS (default 20) each
#   bash ci/fuzz.sh syntax target     those targets only
#
# Seeds come from fuzz/seeds/TARGET (committed), words from fuzz/dicts/; what a run learns
# goes to fuzz/corpus/TARGET (not committed), so later runs start from it. A crash leaves its input in
# fuzz/artifacts/TARGET/ and the run's log in fuzz/artifacts/TARGET.log.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../fuzz"
SECONDS_EACH=${FUZZ_SECONDS:-20}
JOBS=${FUZZ_JOBS:-$(nproc)}
TRIPLE=$(rustc +nightly -vV | sed -n 's/^host: //p')

if (($#)); then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
((${#targets[@]})) || { echo "ci/fuzz.sh: no fuzz targets found" >&2; exit 1; }

# Release with debug assertions and overflow checks (an overflow is a panic too); no
# AddressSanitizer: smtpsh forbids unsafe code, so what fuzzing finds here is panics, hangs
# and broken properties, and without ASan the build is quicker and the runs faster. 16
# codegen units: the build (most of this script's time) takes about a sixth less.
build=(cargo +nightly fuzz build --release --debug-assertions --sanitizer none --codegen-units 16)
if (($#)); then
  for t in "${targets[@]}"; do "${build[@]}" "$t"; done
else
  "${build[@]}"
fi

# One target's run: libFuzzer's own time limit, and a per-input limit that turns a hang into
# a failure (the script target waits for a real server, so it gets more).
run() {
  local t=$1 per_input=10
  [[ $t == script ]] && per_input=60
  mkdir -p "corpus/$t" "artifacts/$t"
  local args=("corpus/$t")
  [[ -d seeds/$t ]] && args+=("seeds/$t")
  # A target's own dictionary, else the SMTP one (verbs, parameters, line ends, …).
  if [[ -f dicts/$t.dict ]]; then args+=("-dict=dicts/$t.dict"); else args+=("-dict=dicts/smtp.dict"); fi
  "target/$TRIPLE/release/$t" "${args[@]}" \
    -max_total_time="$SECONDS_EACH" -timeout="$per_input" \
    -artifact_prefix="artifacts/$t/" -print_final_stats=1 \
    >"artifacts/$t.log" 2>&1
}

started=$(date +%s)
failed=()
pids=()
names=()
wait_one() {
  local pid=${pids[0]} name=${names[0]}
  pids=("${pids[@]:1}")
  names=("${names[@]:1}")
  if wait "$pid"; then
    printf '  %-18s ok   %s\n' "$name" "$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "artifacts/$name.log" | grep -o '[0-9]*$') runs"
  else
    printf '  %-18s FAILED (log: fuzz/artifacts/%s.log)\n' "$name" "$name"
    failed+=("$name")
  fi
}
for t in "${targets[@]}"; do
  ((${#pids[@]} < JOBS)) || wait_one
  run "$t" &
  pids+=($!)
  names+=("$t")
done
while ((${#pids[@]})); do wait_one; done
echo "fuzzing: ${#targets[@]} targets, ${SECONDS_EACH} s each, $JOBS at a time, $(($(date +%s) - started)) s"

if ((${#failed[@]})); then
  for t in "${failed[@]}"; do
    echo "==== $t: the end of its log"
    tail -n 40 "artifacts/$t.log"
    ls -1 "artifacts/$t/" | sed "s|^|  crash input: fuzz/artifacts/$t/|"
  done
  echo "fuzzing found a crash in: ${failed[*]}" >&2
  exit 1
fi
