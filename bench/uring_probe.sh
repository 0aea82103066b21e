#!/usr/bin/env bash
# bench/uring_probe.sh - the io_uring experiment of issue 6 (fixed-rate cost): builds
# bench/uring_probe.cpp into build/bench/uring_probe (g++ + liburing, no CMake) and runs it
# in every mode at every rate, rounds alternating the order of the modes, on one private
# nginx (bench_nginx.py: 1 worker, GET /api/user, 23-byte JSON) pinned to CPU 0, the probe
# pinned to CPU 1 under `perf stat -x, -e task-clock`. Prints one JSON line per run on
# stderr and the table of medians (Markdown) on stdout. See bench/README.md, "io_uring probe".
#
# Knobs (environment):
#   RATES="2000 10000 20000"  ROUNDS=3  DURATION=5  CONNS=64
#   MODES="epoll uring uring-single epoll+ahead uring+ahead uring-sqpoll"
#        (+ahead: --ahead-us $AHEAD_US, default 100; uring-single: --recv single)
#        a run that fails is listed as FAILED in the table; the others go on
#   AHEAD_US=100  JSON=out.json (every run's figures; default: none)
# Needs: g++, liburing-dev, nginx, perf (linux-perf), taskset, /usr/bin/python3, 2 CPUs.
# Loopback only; every run is bounded (`timeout`); nginx is stopped by its pid.
set -euo pipefail
cd "$(dirname "$0")/.."

mkdir -p build/bench
g++ -O2 -std=c++20 -Wall -Wextra -o build/bench/uring_probe bench/uring_probe.cpp -luring

exec /usr/bin/python3 - "$@" <<'EOF'
import json, os, pathlib, shutil, statistics, subprocess, sys, tempfile, time
sys.path.insert(0, "bench")
from bench_nginx import served, start_nginx
from fixed_rate import cpu_busy_secs, task_clock_ms

def perf_count(path: pathlib.Path, event: str) -> float:
    for line in path.read_text().splitlines():
        f = line.split(",")
        if len(f) > 2 and f[2] == event:
            return float(f[0])
    raise SystemExit(f"no {event} in {path}: {path.read_text()[-500:]}")

rates = [float(r) for r in os.environ.get("RATES", "2000 10000 20000").split()]
rounds = int(os.environ.get("ROUNDS", "3"))
duration = float(os.environ.get("DURATION", "5"))
conns = os.environ.get("CONNS", "64")
ahead = os.environ.get("AHEAD_US", "100")
modes = os.environ.get("MODES", "epoll uring uring-single epoll+ahead uring+ahead uring-sqpoll").split()
TOOL_CPU = 1

def probe_args(mode: str) -> list[str]:
    base, _, extra = mode.partition("+")
    args = ["--mode", "uring" if base == "uring-single" else base]
    if base == "uring-single":
        args += ["--recv", "single"]
    if extra == "ahead":
        args += ["--ahead-us", ahead]
    return args

def run(mode: str, rate: float, port: int, tmp: pathlib.Path) -> dict:
    stat = tmp / "perf.csv"
    cmd = ["taskset", "-c", str(TOOL_CPU), "perf", "stat", "-x,", "-e", "task-clock,context-switches", "-o", str(stat), "--",
           "build/bench/uring_probe", "--port", str(port), "--rate", f"{rate:g}", "--duration", f"{duration:g}",
           "--conns", conns, "--sq-cpu", str(TOOL_CPU), *probe_args(mode)]
    load = os.getloadavg()[0]
    before, busy0 = served(port), cpu_busy_secs(TOOL_CPU)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 30)
    busy1, after = cpu_busy_secs(TOOL_CPU), served(port)
    if not p.stdout.strip():   # recorded as a failed run; the table says so
        print(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr[-800:]}", file=sys.stderr, flush=True)
        return {"label": mode, "rate": rate, "failed": p.stderr.strip()[-200:]}
    r = json.loads(p.stdout)
    r.update(label=mode, nginx=after - before - 1, task_clock_ms=task_clock_ms(stat),
             cpu1_busy_s=busy1 - busy0, load1=load, exit=p.returncode)
    r["context_switches"] = perf_count(stat, "context-switches")
    r["us_per_req"] = r["task_clock_ms"] * 1000 / max(r["nginx"], 1)
    r["cpu1_us_per_req"] = r["cpu1_busy_s"] * 1e6 / max(r["nginx"], 1)
    r["count_ok"] = r["sent"] == r["responses"] == r["nginx"] and r["errors"] == 0
    print(json.dumps(r), file=sys.stderr, flush=True)
    return r

tmp = pathlib.Path(tempfile.mkdtemp(prefix="uring_probe."))
nginx, port = start_nginx(tmp, cpu=0)
runs = []
try:
    print(f"# nginx pid {nginx.pid} port {port}; modes {modes}; rates {rates}; {rounds} rounds x {duration:g} s",
          file=sys.stderr)
    for rnd in range(rounds):
        for rate in rates:
            order = modes if rnd % 2 == 0 else modes[::-1]
            for mode in order:
                runs.append(run(mode, rate, port, tmp) | {"round": rnd})
                time.sleep(1)
finally:
    nginx.terminate()
    nginx.wait(timeout=10)
    shutil.rmtree(tmp, ignore_errors=True)

if os.environ.get("JSON"):
    pathlib.Path(os.environ["JSON"]).write_text(json.dumps(runs, indent=1))

def med(xs): return statistics.median(xs)
def rng(xs): return f"{min(xs):.1f}–{max(xs):.1f}"
print(f"| rate | mode | sent = responses = nginx | syscalls/req | context switches/req | CPU µs/req (task-clock) | CPU 1 busy µs/req | "
      f"lag p50 µs | lag p99 µs | lag max µs | load |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for rate in rates:
    for mode in modes:
        failed = [r for r in runs if r["rate"] == rate and r["label"] == mode and "failed" in r]
        rs = [r for r in runs if r["rate"] == rate and r["label"] == mode and "failed" not in r]
        if failed:
            print(f"| {rate:,.0f} | {mode} | {len(failed)} run(s) FAILED: {failed[0]['failed']} | | | | | | | | |")
        if not rs:
            continue
        ok = all(r["count_ok"] for r in rs)
        counts = "yes" if ok else "NO: " + ", ".join(f"{r['sent']}/{r['responses']}/{r['nginx']}" for r in rs)
        us = [r["us_per_req"] for r in rs]
        busy = [r["cpu1_us_per_req"] for r in rs]
        print(f"| {rate:,.0f} | {mode} | {counts} | {med([r['syscalls'] / max(r['nginx'], 1) for r in rs]):.2f} | "
              f"{med([r['context_switches'] / max(r['nginx'], 1) for r in rs]):.2f} | "
              f"{med(us):.1f} ({rng(us)}) | {med(busy):.1f} ({rng(busy)}) | "
              f"{med([r['lag_us']['p50'] for r in rs]):.1f} | {med([r['lag_us']['p99'] for r in rs]):.1f} | "
              f"{med([r['lag_us']['max'] for r in rs]):.0f} | {med([r['load1'] for r in rs]):.2f} |")
EOF
