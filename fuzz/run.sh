#!/usr/bin/env bash
# Runs each libFuzzer target of a fuzz build for a fixed time and reports,
# per target, the seconds run, the executions and whether it crashed.
# Builds nothing (see fuzz/README.md for the build).
#
#   fuzz/run.sh [BUILD_DIR] [SECONDS_PER_TARGET] [TARGET...]
#
# BUILD_DIR defaults to build-fuzz, SECONDS_PER_TARGET to 12 (five targets:
# about a minute), TARGET to all of them. Each fuzzer starts from
# fuzz/corpus/<target> copied to a temporary working corpus: new inputs
# never land in the repository. Exits non-zero if any target crashed (or
# failed to run); the temporary directory is then kept and the crash
# inputs' paths are printed.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-build-fuzz}"
seconds="${2:-12}"
shift $(($# < 2 ? $# : 2))
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(job_file expression json_line batch_codec exchange_frame)
fi

export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"  # a stack with the report
work="$(mktemp -d "${TMPDIR:-/tmp}/sluice-fuzz.XXXXXX")"
failed=0
summary=()
for t in "${targets[@]}"; do
  bin="$build/fuzz/${t}_fuzzer"
  if [ ! -x "$bin" ]; then
    echo "fuzz/run.sh: $bin not found; build it first (fuzz/README.md)" >&2
    summary+=("$(printf '%-16s %8s %12s  %s' "$t" - - "MISSING $bin")")
    failed=1
    continue
  fi
  corpus="$work/$t/corpus"
  artifacts="$work/$t/artifacts"
  mkdir -p "$corpus" "$artifacts"
  # Seeds only: the saved crash inputs (fuzz/regressions) are the
  # regression test's; one not fixed yet would stop the fuzzer at startup.
  if [ -d "$here/corpus/$t" ]; then
    find "$here/corpus/$t" -maxdepth 1 -type f ! -name '.*' -exec cp {} "$corpus/" \;
  fi
  args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=20 -rss_limit_mb=2560
        -artifact_prefix="$artifacts/")
  if [ -f "$here/$t.dict" ]; then args+=(-dict="$here/$t.dict"); fi

  log="$work/$t/log"
  start=$(date +%s.%N)
  status=0
  "$bin" "${args[@]}" "$corpus" >"$log" 2>&1 || status=$?
  end=$(date +%s.%N)
  ran=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  crashes=$(find "$artifacts" -type f | sort)
  if [ "$status" -eq 0 ] && [ -z "$crashes" ]; then
    result="ok"
  else
    failed=1
    result="CRASHED (exit $status)"
    echo "=== $t: crashed; end of its log ($log):"
    tail -n 60 "$log"  # the sanitizer report or FUZZ_CHECK message, and the stack
    for c in $crashes; do echo "crash input: $c"; done
  fi
  summary+=("$(printf '%-16s %8s %12s  %s' "$t" "$ran" "${execs:-?}" "$result")")
done

echo
printf '%-16s %8s %12s  %s\n' target seconds executions result
printf '%s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
  echo "fuzz/run.sh: failures; inputs and logs kept in $work" >&2
  echo "(save a crash input as fuzz/regressions/<target>/<name>; fuzz/README.md)" >&2
  exit 1
fi
rm -rf "$work"
