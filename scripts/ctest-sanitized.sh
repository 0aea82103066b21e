#!/usr/bin/env bash
# Runs ctest in a sanitizer build directory (build-asan, build-tsan: see
# cmake/sanitize.cmake) and fails when any process, test or not, wrote a sanitizer
# report. Reports go to BUILD_DIR/sanitizer-reports/ instead of stderr, so a report from
# a server a test fixture started and stopped (whose exit code no test reads) is not
# lost; each is printed, symbolized, at the end.
#
# usage: scripts/ctest-sanitized.sh BUILD_DIR [CTEST_ARGS...]
set -uo pipefail

if (($# < 1)) || [[ ! -f $1/CTestTestfile.cmake ]]; then
  echo "usage: $0 BUILD_DIR [CTEST_ARGS...]  (BUILD_DIR: a configured and built sanitizer build)" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
shift
reports=$build/sanitizer-reports
rm -rf "$reports"
mkdir -p "$reports"

# Added to the options compiled into each binary (tests/sanitize/default_options.cpp).
where="log_path=$reports/report:log_exe_name=1"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}$where"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}$where"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}$where"
export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}$where"

echo "ctest-sanitized: $build (reports in $reports)"
# Parallel as make test: CPU-bound tests one per core, the waiting ones beside them.
parallel=(-j 2)
if [[ -f $build/ctest-resources.json ]]; then
  parallel=(-j $(($(nproc) + 3)) --resource-spec-file "$build/ctest-resources.json")
fi
(cd "$build" && ctest --output-on-failure "${parallel[@]}" --timeout 900 "$@")
rc=$?

mapfile -t found < <(find "$reports" -type f | sort)
if ((${#found[@]} > 0)); then
  for report in "${found[@]}"; do
    echo
    echo "==== sanitizer report: $report"
    cat "$report"
  done
  echo
  echo "ctest-sanitized: ${#found[@]} sanitizer report(s) in $reports" >&2
  rc=1
fi
exit $rc
