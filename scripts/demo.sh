#!/usr/bin/env bash
# `make demo`: starts the bundled demo target on a free loopback port, runs
# examples/checkout.py against it (live dashboard, summary, thresholds), and stops the
# target (also on Ctrl+C).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${LOADPILOT_BIN:-build/bin}

log=$(mktemp)
"$BIN/loadpilot-target" --port 0 >"$log" 2>&1 &
target_pid=$!
cleanup() { kill "$target_pid" 2>/dev/null || true; wait "$target_pid" 2>/dev/null || true; rm -f "$log"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

url=""
for _ in $(seq 100); do
  url=$(sed -n 's/^loadpilot-target listening on \(http:\/\/[^ ]*\)$/\1/p' "$log")
  [[ -n $url ]] && break
  kill -0 "$target_pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.05
done
[[ -n $url ]] || { echo "demo: loadpilot-target did not start" >&2; exit 1; }
echo "demo: loadpilot-target is up at $url"

"$BIN/loadpilot" run examples/checkout.py --target "$url"
