#!/usr/bin/env bash
# Runs one libFuzzer target for $FUZZ_SECONDS (default 5): first every input of its seed
# corpus, then new ones. Inputs that reach new code are kept in WORK_DIR/corpus, so each
# run starts where the last one stopped. On a crash or a failed property it exits 1 and
# prints the reproducer's path and the command that replays it.
#
# usage: run_fuzzer.sh FUZZER SEED_CORPUS WORK_DIR [DICTIONARY]
set -uo pipefail

if (($# < 3)); then
  echo "usage: $0 FUZZER SEED_CORPUS WORK_DIR [DICTIONARY]" >&2
  exit 2
fi
fuzzer=$1 seeds=$2 work=$3 dict=${4:-}
seconds=${FUZZ_SECONDS:-5}
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "run_fuzzer: FUZZ_SECONDS must be a whole number of seconds > 0, got '$seconds'" >&2
  exit 2
fi
name=$(basename "$fuzzer")

mkdir -p "$work/corpus" "$work/artifacts"
stamp=$(mktemp)
trap 'rm -f "$stamp"' EXIT

# -max_len: past the response parser's 8 KiB line limit (kMaxLineBytes).
args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384
      -print_final_stats=1 -artifact_prefix="$work/artifacts/")
[[ -n $dict ]] && args+=(-dict="$dict")

echo "run_fuzzer: $name for ${seconds}s (seeds $seeds, corpus $work/corpus)"
"$fuzzer" "${args[@]}" "$work/corpus" "$seeds"
rc=$?
if ((rc == 0)); then
  exit 0
fi

found=$(find "$work/artifacts" -type f -newer "$stamp" | sort)
echo >&2
echo "run_fuzzer: $name FAILED (exit $rc)" >&2
if [[ -n $found ]]; then
  while read -r artifact; do
    echo "  reproducer: $artifact" >&2
    echo "  replay it:  $fuzzer $artifact" >&2
  done <<<"$found"
  echo "  once fixed, copy the reproducer into $seeds/ so every run replays it" >&2
fi
exit 1
